"""The DailyUsage rollup is exact: its totals equal the ledger's."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum

from analytics.models import DailyUsage, UserDailyUsage
from analytics.rollups import daily_usage_rebuild
from ingestion.services import usage_ingest, usage_reprice
from tests.conftest import on_postgres
from tests.factories import ModelPriceFactory
from tokens.models import UsageRecord

WHEN = "2026-11-20T10:00:00Z"


def _record(i: int, **extra):
    data = {
        "request_id": f"r-{i}",
        "model": "gpt-4o",
        "agent": "planner" if i % 2 else "writer",
        "tool": "search" if i % 3 else "",
        "prompt_tokens": 1000 + i,
        "completion_tokens": 200 + i,
        "occurred_at": WHEN,
    }
    data.update(extra)
    return data


def _ledger_totals():
    return UsageRecord.objects.aggregate(
        requests=Count("id"), tokens=Sum("total_tokens"), cost=Sum("cost_usd"), output=Sum("output_tokens")
    )


def _rollup_totals():
    coarse = UserDailyUsage.objects.aggregate(
        requests=Sum("requests"), tokens=Sum("total_tokens"), cost=Sum("cost_usd")
    )
    fine = DailyUsage.objects.aggregate(
        requests=Sum("requests"),
        tokens=Sum("total_tokens"),
        cost=Sum("cost_usd"),
        output=Sum("output_tokens"),
    )
    # The (user, day) totals agree with the fine rollup.
    assert coarse == {k: fine[k] for k in ("requests", "tokens", "cost")}
    return fine


@pytest.mark.django_db
def test_ingestion_rolls_up_per_day_agent_model_tool(user, catalog):
    usage_ingest(user=user, api_key=None, payloads=[_record(i) for i in range(6)])
    usage_ingest(user=user, api_key=None, payloads=[_record(i) for i in range(6)])  # duplicates
    rows = DailyUsage.objects.filter(user=user).order_by("agent", "tool")
    assert [(r.agent, r.tool, r.requests) for r in rows] == [
        ("planner", "", 1),
        ("planner", "search", 2),
        ("writer", "", 1),
        ("writer", "search", 2),
    ]
    assert rows[0].day == date(2026, 11, 20)
    assert _rollup_totals() == _ledger_totals()
    # gpt-4o at $2.50 in / $10 out per 1M: record 3 is 1003 in + 203 out tokens.
    assert rows[0].cost_usd == Decimal("1003") * Decimal("2.5") / 10**6 + Decimal("203") * 10 / 10**6


@pytest.mark.django_db
def test_optimization_and_cache_figures(user, catalog):
    usage_ingest(
        user=user,
        api_key=None,
        payloads=[
            _record(1, agent="a", tool="", optimization={"technique": "compress", "original_tokens": 1501}),
            _record(2, agent="a", tool="", optimization={"technique": "compress", "original_tokens": 900}),
            _record(3, agent="a", tool="", cache_hit=True),
        ],
    )
    row = DailyUsage.objects.get(user=user)
    assert (row.requests, row.optimized_requests, row.optimization_failures) == (3, 2, 1)
    assert (row.original_tokens, row.tokens_saved, row.cache_hits) == (2401, 500, 1)
    assert row.usd_saved == Decimal("500") * Decimal("2.5") / 10**6


@pytest.mark.django_db
def test_rebuild_reproduces_incremental_rollup(user, other_user, catalog):
    usage_ingest(
        user=user,
        api_key=None,
        payloads=[
            _record(i, optimization={"technique": "compress", "original_tokens": 2000 + i * 50}) for i in range(8)
        ]
        + [_record(100 + i, occurred_at="2026-11-21T23:59:59Z", cache_hit=bool(i % 2)) for i in range(4)],
    )
    usage_ingest(user=other_user, api_key=None, payloads=[_record(i, model="mystery-1") for i in range(3)])
    fields = ["user_id", "day", "agent", "model", "tool", *DailyUsage.COUNTERS]
    incremental = sorted(DailyUsage.objects.values_list(*fields))
    totals = sorted(UserDailyUsage.objects.values_list("user_id", "day", *UserDailyUsage.COUNTERS))
    assert len(totals) == 3
    assert daily_usage_rebuild(start=date(2026, 11, 1), end=date(2026, 11, 30)) == len(incremental)
    assert sorted(DailyUsage.objects.values_list(*fields)) == incremental
    assert sorted(UserDailyUsage.objects.values_list("user_id", "day", *UserDailyUsage.COUNTERS)) == totals


@pytest.mark.django_db
def test_repricing_moves_cost_into_the_rollup(user, catalog):
    usage_ingest(
        user=user,
        api_key=None,
        payloads=[_record(i, model="mystery-1", agent="a", tool="") for i in range(2)],
    )
    row = DailyUsage.objects.get(user=user)
    assert (row.requests, row.unpriced_requests, row.cost_usd) == (2, 2, Decimal(0))
    ModelPriceFactory(
        name="mystery-1",
        input_per_million=Decimal("1"),
        output_per_million=Decimal("2"),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    assert usage_reprice(models=["mystery-1"]) == 2
    row.refresh_from_db()
    assert (row.requests, row.unpriced_requests) == (2, 0)
    assert row.cost_usd == Decimal(1000 + 1001) / 10**6 + Decimal(2 * (200 + 201)) / 10**6
    assert _rollup_totals() == _ledger_totals()


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_keeps_rollup_equal_to_ledger(user, catalog):
    threads_n = 6 if on_postgres else 2
    batches = 4
    errors = []
    # The in-memory SQLite test database reports "table is locked" instead of
    # waiting, so there the threads take turns (SQLite serialises writers anyway).
    turn = threading.Lock() if not on_postgres else None

    def worker(t: int) -> None:
        try:
            for b in range(batches):
                if turn:
                    turn.acquire()
                # Every thread writes the same (day, agent, model, tool) keys: the hot-row case.
                try:
                    _ingest(t, b)
                finally:
                    if turn:
                        turn.release()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def _ingest(t: int, b: int) -> None:
        usage_ingest(
            user=user,
            api_key=None,
            payloads=[_record(t * 1000 + b * 100 + i, request_id=f"t{t}-b{b}-{i}") for i in range(10)],
        )

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ledger = _ledger_totals()
    assert ledger["requests"] == threads_n * batches * 10
    assert _rollup_totals() == ledger
    assert DailyUsage.objects.count() == 4


@pytest.mark.django_db
def test_rebuild_of_one_user_leaves_others(user, other_user, catalog):
    usage_ingest(user=user, api_key=None, payloads=[_record(1)])
    usage_ingest(user=other_user, api_key=None, payloads=[_record(1)])
    DailyUsage.objects.filter(user=user).update(requests=99)
    daily_usage_rebuild(start=date(2026, 11, 20), end=date(2026, 11, 20) + timedelta(days=0), user=user)
    assert list(DailyUsage.objects.order_by("user_id").values_list("user__username", "requests")) == [
        ("alice", 1),
        ("bob", 1),
    ]


@pytest.mark.django_db
def test_rebuild_command(user, catalog):
    from io import StringIO

    from django.core.management import call_command

    usage_ingest(user=user, api_key=None, payloads=[_record(i) for i in range(3)])
    DailyUsage.objects.all().delete()
    UserDailyUsage.objects.all().delete()
    out = StringIO()
    call_command("rebuild_rollups", "--start", "2026-11-01", "--end", "2026-11-30", "--user", "alice", stdout=out)
    assert out.getvalue().strip() == "Rebuilt 3 rollup rows for 2026-11-01..2026-11-30."
    assert _rollup_totals() == _ledger_totals()
