"""The per-process cache of which budgets exist never serves stale limits or breaks ingestion."""

import pytest

from budgets.models import Budget, BudgetWindow
from budgets.selectors import budget_cache, estimate_cache
from budgets.services import budget_check
from tokens.models import UsageRecord


@pytest.fixture
def caching(settings):
    settings.NETRA_BUDGET_CACHE_SECONDS = 60
    settings.NETRA_ESTIMATE_CACHE_SECONDS = 60
    budget_cache.clear()
    estimate_cache.clear()
    yield
    budget_cache.clear()
    estimate_cache.clear()


def check(user):
    return budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=100, max_output_tokens=50)


def test_a_limit_lowered_elsewhere_applies_at_once(caching, user, make_budget, catalog):
    budget = make_budget(user=user, limit_tokens=10_000)
    assert check(user).allowed is True
    assert budget_cache.get(user.pk) == [budget]

    Budget.objects.filter(pk=budget.pk).update(limit_tokens=100)  # no signal, as from another process

    denied = check(user)
    assert (denied.allowed, denied.budgets[0]["limit_tokens"]) == (False, 100)


def test_a_budget_switched_off_elsewhere_stops_applying(caching, user, make_budget, catalog):
    budget = make_budget(user=user, limit_tokens=10)
    assert check(user).allowed is False
    Budget.objects.filter(pk=budget.pk).update(is_active=False)
    result = check(user)
    assert (result.allowed, result.budgets) == (True, [])


def test_a_budget_deleted_elsewhere_never_loses_usage(caching, user, make_budget, ingest):
    budget = make_budget(user=user, limit_tokens=10_000)
    check(user)
    stale = budget_cache.get(user.pk)
    Budget.objects.filter(pk=budget.pk).delete()
    budget_cache.put(user.pk, stale)  # another process would still hold it

    record = ingest(user, prompt=100, completion=10)

    assert UsageRecord.objects.filter(pk=record.pk).exists()
    assert BudgetWindow.objects.count() == 0
    assert check(user).allowed is True


def test_a_budget_created_in_this_process_applies_at_once(caching, user, make_budget, catalog):
    assert check(user).budgets == []
    budget = make_budget(user=user, limit_tokens=10)
    assert [b["id"] for b in check(user).budgets] == [budget.pk]
