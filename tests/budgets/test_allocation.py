"""Splitting a token total across agents by priority with a minimum each."""

import pytest

from budgets.allocation import DEFAULT_PRIORITIES, AllocationError, allocate
from budgets.models import Budget, BudgetChange
from budgets.services import budgets_allocate
from core.errors import DomainError


def test_plan_defaults_come_out_exactly_at_their_total():
    assert allocate(total=8000, priorities=DEFAULT_PRIORITIES, minimum=500) == {
        "triage": 500, "data": 3000, "optimization": 2000, "action": 1000, "reporting": 1500,
    }


def test_small_shares_are_lifted_to_the_minimum_and_the_rest_split_by_priority():
    shares = allocate(total=4000, priorities=DEFAULT_PRIORITIES, minimum=500)
    assert shares == {"triage": 500, "data": 1385, "optimization": 923, "action": 500, "reporting": 692}
    assert sum(shares.values()) == 4000


def test_sum_never_exceeds_the_total_with_awkward_numbers():
    for total in (2500, 2501, 7777, 10001):
        shares = allocate(total=total, priorities={"a": 1, "b": 1, "c": 1}, minimum=7)
        assert sum(shares.values()) == total
        assert min(shares.values()) >= 7


def test_total_below_agents_times_minimum_is_a_clear_error():
    with pytest.raises(AllocationError) as exc:
        allocate(total=2000, priorities=DEFAULT_PRIORITIES, minimum=500)
    assert str(exc.value) == (
        "A total of 2000 tokens cannot give 5 agents at least 500 each (needs 2500)."
    )


@pytest.mark.django_db
def test_allocating_under_a_user_budget_creates_and_then_updates_agent_budgets(user, staff_user, make_budget):
    parent = make_budget(user=user, period="day", limit_tokens=8000)

    first = budgets_allocate(parent=parent, by=staff_user, total=8000, priorities=DEFAULT_PRIORITIES, minimum=500)
    again = budgets_allocate(parent=parent, by=staff_user, total=4000,
                             priorities={"triage": 1, "data": 1}, minimum=500)

    assert [(b.agent, b.limit_tokens) for b in first] == [
        ("triage", 500), ("data", 3000), ("optimization", 2000), ("action", 1000), ("reporting", 1500),
    ]
    assert [(b.agent, b.limit_tokens) for b in again] == [("triage", 2000), ("data", 2000)]
    children = Budget.objects.filter(parent=parent).order_by("agent")
    assert all(c.scope == "user_agent" and c.user == user and c.period == "day" for c in children)
    change = BudgetChange.objects.get(budget__agent="data", field="limit_tokens")
    assert (change.old_value, change.new_value, change.changed_by) == ("3000", "2000", staff_user)


@pytest.mark.django_db
def test_allocating_too_little_raises_a_domain_error(user, staff_user, make_budget):
    parent = make_budget(user=user, limit_tokens=100)
    with pytest.raises(DomainError) as exc:
        budgets_allocate(parent=parent, by=staff_user, total=100, priorities={"a": 1, "b": 1}, minimum=60)
    assert exc.value.code == "allocation_invalid"
    assert not Budget.objects.filter(parent=parent).exists()
