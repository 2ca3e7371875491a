"""Which budgets apply is read fresh on every check and every ingestion: nothing stale admits an overspend."""

import pytest

from budgets.models import Budget, BudgetWindow, ReservationHold
from budgets.selectors import estimate_cache
from budgets.services import budget_check
from tokens.models import UsageRecord


@pytest.fixture
def caching(settings):
    settings.NETRA_ESTIMATE_CACHE_SECONDS = 60
    estimate_cache.clear()
    yield
    estimate_cache.clear()


def check(user):
    return budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=100, max_output_tokens=50)


def test_a_limit_lowered_elsewhere_applies_at_once(caching, user, make_budget, catalog):
    budget = make_budget(user=user, limit_tokens=10_000)
    assert check(user).allowed is True

    Budget.objects.filter(pk=budget.pk).update(limit_tokens=100)  # no signal, as from another process

    denied = check(user)
    assert (denied.allowed, denied.budgets[0]["limit_tokens"]) == (False, 100)


def test_a_budget_switched_off_elsewhere_stops_applying(caching, user, make_budget, catalog):
    budget = make_budget(user=user, limit_tokens=10)
    assert check(user).allowed is False
    Budget.objects.filter(pk=budget.pk).update(is_active=False)
    result = check(user)
    assert (result.allowed, result.budgets) == (True, [])


def test_a_budget_created_elsewhere_applies_at_once(caching, user, catalog):
    assert check(user).budgets == []
    # A bulk insert sends no signal, as a budget saved by another server process would not here.
    (budget,) = Budget.objects.bulk_create([Budget(user=user, scope="user", period="day", limit_tokens=10)])
    result = check(user)
    assert (result.allowed, [b["id"] for b in result.budgets]) == (False, [budget.pk])


@pytest.mark.django_db(transaction=True)  # foreign keys are checked at a real commit
def test_a_budget_deleted_elsewhere_never_loses_usage(caching, user, make_budget, ingest):
    budget = make_budget(user=user, limit_tokens=10_000)
    check(user)
    Budget.objects.filter(pk=budget.pk).delete()

    record = ingest(user, prompt=100, completion=10)

    reserved = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=100, max_output_tokens=50,
                            reserve=True)

    assert UsageRecord.objects.filter(pk=record.pk).exists()
    assert BudgetWindow.objects.count() == 0
    assert (reserved.allowed, reserved.budgets) == (True, [])
    assert not ReservationHold.objects.exists()
