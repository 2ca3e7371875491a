"""Concurrent ingestion of overlapping batches (same request_ids, runs, days, budgets and reservations):
no deadlock, every record stored once, every rollup and budget window equal to the ledger; a batch the
database aborts for a lock conflict is retried, and one that keeps failing is a 503, never a 500."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import OperationalError, connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from analytics.models import DailyUsage, OrgDailyUsage, OrgTagDailyUsage, UserDailyUsage
from budgets.models import BudgetWindow, Reservation
from budgets.services import budget_check, budget_create
from ingestion import services as ingestion
from organizations.models import Membership, Organization
from tests.analytics.test_run_rollups import assert_exact
from tests.conftest import on_postgres
from tests.factories import UserFactory
from tokens.models import UsageRecord

# The in-memory SQLite test database reports "table is locked" instead of waiting: there the threads take turns.
THREADS = 6 if on_postgres else 2
BATCHES = 4
IDS = 90  # request_ids shared by every thread; each batch posts 60 of them


def _payload(n: int, reservations: dict[int, str]) -> dict:
    return {
        "request_id": f"c-{n}", "model": "gpt-4o", "agent": ("planner", "writer")[n % 2],
        "tool": ("", "search", "browse")[n % 3], "run_id": f"run-{n % 7}",
        "prompt_tokens": 100 + n, "completion_tokens": 10 + n,
        "tags": [["prod"], ["prod", "eu"], []][n % 3], "latency_ms": 100 + 37 * n,
        "occurred_at": f"2026-11-{20 + n % 3}T{n % 24:02d}:00:00Z",
        **({"optimization": {"technique": "compress", "original_tokens": 300}} if n % 4 == 0 else {}),
        **({"reservation_id": reservations[n]} if n in reservations else {}),
    }


def _batch(t: int, b: int, reservations: dict[int, str]) -> list[dict]:
    first = (t * 17 + b * 29) % IDS
    ids = [(first + i) % IDS for i in range(60)]
    if (t + b) % 2:
        ids.reverse()  # the same keys in the other order too
    return [_payload(n, reservations) for n in ids]


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_from_threads_store_each_record_once(catalog):
    user = UserFactory(username="overlap")
    # A member's records are the organization's: its rollups (per tag, latency) are written by the same batches.
    organization = Organization.objects.create(name="Overlap", slug="overlap")
    Membership.objects.create(organization=organization, user=user, role="owner")
    total = budget_create(by=None, scope="user", user=user, period="lifetime", limit_tokens=10**9)
    planner = budget_create(by=None, scope="user_agent", user=user, agent="planner", period="day",
                            limit_usd=Decimal("1000"))
    reservations = {}
    for n in range(0, IDS, 9):
        check = budget_check(user=user, agent=("planner", "writer")[n % 2], model="gpt-4o", input_tokens=100,
                             max_output_tokens=50, reserve=True)
        reservations[n] = str(check.reservation.pk)
    results, errors = [], []
    turn = threading.Lock() if not on_postgres else None
    barrier = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for b in range(BATCHES):
                if turn:
                    turn.acquire()
                try:
                    results.extend(ingestion.usage_ingest(user=user, api_key=None,
                                                          payloads=_batch(t, b, reservations)))
                finally:
                    if turn:
                        turn.release()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    posted = {f"c-{(((t * 17 + b * 29) % IDS) + i) % IDS}" for t in range(THREADS) for b in range(BATCHES)
              for i in range(60)}
    assert len(results) == THREADS * BATCHES * 60
    assert {r.status for r in results} == {"created", "duplicate"}
    assert sum(r.status == "created" for r in results) == len(posted)
    stored = UsageRecord.objects.filter(user=user)
    assert stored.count() == len(posted)
    assert set(stored.values_list("request_id", flat=True)) == posted
    assert stored.values("request_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    ledger = stored.aggregate(requests=Count("id"), tokens=Sum("total_tokens"), cost=Sum("cost_usd"))
    for model in (DailyUsage, UserDailyUsage):
        assert model.objects.aggregate(requests=Sum("requests"), tokens=Sum("total_tokens"),
                                       cost=Sum("cost_usd")) == ledger
    assert_exact()
    assert OrgDailyUsage.objects.filter(organization=organization).aggregate(n=Sum("requests"))["n"] == len(posted)
    assert OrgTagDailyUsage.objects.filter(tag="eu").aggregate(n=Sum("requests"))["n"] == stored.filter(
        request_id__in=[f"c-{n}" for n in range(IDS) if n % 3 == 1]).count()
    assert BudgetWindow.objects.get(budget=total).spent_tokens == ledger["tokens"]
    windows = {w.window_start.date(): w.spent_usd for w in BudgetWindow.objects.filter(budget=planner)
               if w.spent_usd}
    by_day = stored.filter(agent="planner").values("occurred_at__date").annotate(s=Sum("cost_usd"))
    assert windows == {row["occurred_at__date"]: row["s"] for row in by_day}
    assert len(windows) == 3
    named = {r for r in reservations if f"c-{r}" in posted}
    assert Reservation.objects.filter(status="committed").count() == len(named)


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.django_db
def test_a_batch_aborted_by_a_deadlock_is_retried_whole(user, catalog, monkeypatch):
    budget = budget_create(by=None, scope="user", user=user, period="lifetime", limit_tokens=10**9)
    failures = iter([_deadlock(), _deadlock()])
    real = ingestion.daily_usage_add

    def deadlocking(**kwargs):
        real(**kwargs)  # the rows are written, then the database aborts the transaction
        failure = next(failures, None)
        if failure is not None:
            raise failure

    monkeypatch.setattr(ingestion, "daily_usage_add", deadlocking)
    results = ingestion.usage_ingest(user=user, api_key=None, payloads=[_payload(n, {}) for n in range(5)])
    assert [r.status for r in results] == ["created"] * 5
    assert UsageRecord.objects.count() == 5
    assert BudgetWindow.objects.get(budget=budget).spent_tokens == UsageRecord.objects.aggregate(
        s=Sum("total_tokens"))["s"]
    assert_exact()


@pytest.mark.django_db
def test_a_batch_that_keeps_deadlocking_is_a_503_and_stores_nothing(api, user, monkeypatch):
    def always(**kwargs):
        raise _deadlock()

    monkeypatch.setattr(ingestion, "daily_usage_add", always)
    monkeypatch.setattr(ingestion.time, "sleep", lambda seconds: None)
    response = api.post("/api/v1/usage", {"records": [_payload(n, {}) for n in range(3)]}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert UsageRecord.objects.count() == 0
    assert DailyUsage.objects.count() == 0
    # Sent again once the contention is gone, the batch is stored whole.
    monkeypatch.undo()
    response = api.post("/api/v1/usage", {"records": [_payload(n, {}) for n in range(3)]}, format="json")
    assert response.status_code in (200, 201, 207)
    assert UsageRecord.objects.count() == 3
    assert_exact()


@pytest.mark.django_db
def test_one_batch_takes_its_row_locks_table_by_table_in_the_fixed_order(user, catalog):
    budget_create(by=None, scope="user", user=user, period="lifetime", limit_tokens=10**9)
    check = budget_check(user=user, agent="planner", model="gpt-4o", input_tokens=100, max_output_tokens=50,
                         reserve=True)
    payloads = [_payload(n, {0: str(check.reservation.pk)}) for n in range(12)]
    with CaptureQueriesContext(connection) as queries:
        ingestion.usage_ingest(user=user, api_key=None, payloads=payloads)
    tables = ["tokens_usagerecord", "tokens_run", "budgets_reservation", "budgets_reservationhold",
              "analytics_dailyusage", "analytics_userdailyusage", "analytics_runusage",
              "analytics_techniquedailyusage", "budgets_budgetwindow"]
    locked = []  # the table each row-locking statement writes or locks, in order
    # On PostgreSQL the rollup upserts go in one round trip: statements joined with "; ", in order.
    statements = [sql for query in queries for sql in re.split(r";\s*(?=INSERT|UPDATE|WITH)", query["sql"])]
    for sql in statements:
        match = (re.match(r'\s*(?:INSERT(?: OR IGNORE)? INTO|UPDATE) "(\w+)"', sql)
                 or ("FOR UPDATE" in sql and re.search(r'FROM "(\w+)"', sql)))
        if match:
            locked.append(match.group(1))
    first = [table for index, table in enumerate(locked) if table not in locked[:index]]
    assert [table for table in first if table in tables] == tables, locked
    writes = [query["sql"] for query in queries]
    # One statement per rollup table for the batch.
    for table in tables[4:8]:
        assert sum(f'INTO "{table}"' in sql for sql in writes) == 1
