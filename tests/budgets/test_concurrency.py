"""Concurrent checks never jointly pass a hard limit: real threads, real connections.

PostgreSQL (the CI second run) races 32 threads on one budget; SQLite
serialises writers, so the embedded run races 4 threads against the same invariant.
"""

from decimal import Decimal

import pytest
from django.db.models import Sum

from budgets.models import Budget, BudgetWindow, Reservation, ReservationHold
from budgets.services import budget_check, budget_create
from ingestion.services import usage_ingest
from tests.concurrency import race
from tests.conftest import on_postgres
from tests.factories import UserFactory

THREADS = 32 if on_postgres else 4


def held_and_spent(budget: Budget) -> int:
    held = ReservationHold.objects.filter(budget=budget, active=True).aggregate(t=Sum("tokens"))["t"] or 0
    spent = BudgetWindow.objects.filter(budget=budget).aggregate(t=Sum("spent_tokens"))["t"] or 0
    return held + spent


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_pass_a_hard_limit(catalog):
    user = UserFactory(username="racer")
    fits = THREADS // 2
    # Each check holds 100 input + 50 output tokens; room for exactly half the threads (+ a sliver).
    budget = budget_create(by=None, scope="user", user=user, period="day", limit_tokens=150 * fits + 149,
                           limit_usd=Decimal("10"))

    results = race(lambda i: budget_check(user=user, agent="a", model="gpt-4o", input_tokens=100,
                                          max_output_tokens=50, reserve=True), THREADS)

    assert sum(r.allowed for r in results) == fits
    assert Reservation.objects.filter(status="active").count() == fits
    assert held_and_spent(budget) == 150 * fits <= budget.limit_tokens


@pytest.mark.django_db(transaction=True)
def test_concurrent_reserve_and_commit_cycles_keep_committed_plus_reserved_under_the_limit(catalog):
    user = UserFactory(username="cycler")
    budget = budget_create(by=None, scope="user", user=user, period="day", limit_tokens=150 * THREADS)

    def cycle(i: int) -> list[bool]:
        outcomes = []
        for n in range(3):
            check = budget_check(user=user, agent="a", model="gpt-4o", input_tokens=100, max_output_tokens=50,
                                 reserve=True)
            outcomes.append(check.allowed)
            if check.allowed:
                usage_ingest(user=user, api_key=None, payloads=[{
                    "request_id": f"t{i}-{n}", "model": "gpt-4o", "agent": "a", "prompt_tokens": 100,
                    "completion_tokens": 40, "reservation_id": str(check.reservation.pk),
                }])
        return outcomes

    results = race(cycle, THREADS)

    allowed = sum(sum(r) for r in results)
    window = BudgetWindow.objects.get(budget=budget)
    assert window.spent_tokens == 140 * allowed
    assert held_and_spent(budget) <= budget.limit_tokens
    assert not ReservationHold.objects.filter(active=True).exists()
    assert Reservation.objects.filter(status="committed").count() == allowed
