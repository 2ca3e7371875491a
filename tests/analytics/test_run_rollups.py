"""The run and technique rollups equal the ledger (after ingestion, duplicates, a reprice, a rebuild),
carry the records' organization, and are what pages read instead of the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.test.utils import CaptureQueriesContext

from analytics import org_selectors, run_selectors, selectors
from analytics.models import DailyUsage, RunUsage, TechniqueDailyUsage, UserDailyUsage
from analytics.rollups import ROLLUPS, daily_usage_add, daily_usage_rebuild
from ingestion.services import usage_ingest, usage_reprice
from organizations.models import Organization
from tests.analytics.org_rollup_reference import ledger_org_rollups, rollup_org_rollups
from tests.factories import ModelPriceFactory
from tokens.models import UsageRecord


def _record(n: int, *, run: str, at: str, technique: str = "", original: int | None = None, **extra):
    data = {"request_id": f"q-{n}", "model": "gpt-4o", "agent": "planner", "run_id": run,
            "prompt_tokens": 1000 + n, "completion_tokens": 100 + n, "occurred_at": at, **extra}
    if technique:
        data["optimization"] = {"technique": technique, **({"original_tokens": original} if original else {})}
    return data


RECORDS = [
    _record(1, run="run-a", at="2026-11-20T10:00:00Z", technique="compress", original=2001),
    _record(2, run="run-a", at="2026-11-20T11:30:00Z", technique="compress", original=1500),
    _record(3, run="run-a", at="2026-11-21T09:00:00Z", technique="context_fit"),
    _record(4, run="run-b", at="2026-11-21T12:00:00Z"),
    _record(5, run="", at="2026-11-21T13:00:00Z", technique="compress", original=900),
]


def ledger_runs() -> dict:
    rows = (UsageRecord.objects.exclude(run_id="").values("user_id", "run_id")
            .annotate(n=Count("id"), tokens=Sum("total_tokens"), cost=Sum("cost_usd"), first=Min("occurred_at"),
                      last=Max("occurred_at"), org=Max("organization_id")))
    return {(r["user_id"], r["run_id"]): (r["n"], r["tokens"], r["cost"], r["first"], r["last"], r["org"])
            for r in rows}


def rollup_runs() -> dict:
    return {(r.user_id, r.run_id): (r.requests, r.total_tokens, r.cost_usd, r.first_at, r.last_at,
                                    r.organization_id) for r in RunUsage.objects.all()}


def ledger_techniques() -> dict:
    rows = (UsageRecord.objects.exclude(optimization_technique="").annotate(day=TruncDate("occurred_at"))
            .values("user_id", "day", "optimization_technique")
            .annotate(n=Count("id"), original=Sum(Coalesce("original_tokens", 0))))
    return {(r["user_id"], r["day"], r["optimization_technique"]): (r["n"], r["original"]) for r in rows}


def rollup_techniques() -> dict:
    return {(r.user_id, r.day, r.technique): (r.requests, r.original_tokens)
            for r in TechniqueDailyUsage.objects.all()}


def assert_exact() -> None:
    assert rollup_runs() == ledger_runs()
    assert rollup_techniques() == ledger_techniques()
    assert rollup_org_rollups() == ledger_org_rollups()


@pytest.mark.django_db
def test_run_and_technique_rollups_hold_exact_totals(user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    usage_ingest(user=user, api_key=None, payloads=RECORDS[:2])  # duplicates count once
    run_a = RunUsage.objects.get(user=user, run_id="run-a")
    assert (run_a.requests, run_a.total_tokens) == (3, 1001 + 1002 + 1003 + 101 + 102 + 103)
    assert run_a.first_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert run_a.last_at == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert run_a.cost_usd == sum(UsageRecord.objects.filter(run_id="run-a").values_list("cost_usd", flat=True))
    assert RunUsage.objects.count() == 2  # records without a run have no run row
    assert rollup_techniques() == {
        (user.pk, date(2026, 11, 20), "compress"): (2, 2001 + 1500),
        (user.pk, date(2026, 11, 21), "context_fit"): (1, 0),
        (user.pk, date(2026, 11, 21), "compress"): (1, 900),
    }
    saved = TechniqueDailyUsage.objects.get(day=date(2026, 11, 20))
    # 2001 - 1001 and 1500 - 1002 prompt tokens saved; none failed.
    assert (saved.tokens_saved, saved.optimization_failures) == (1000 + 498, 0)
    assert TechniqueDailyUsage.objects.get(technique="context_fit").optimization_failures == 1
    assert_exact()


@pytest.mark.django_db
def test_run_usage_and_top_runs_read_the_run_rollup(user, other_user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    usage_ingest(user=other_user, api_key=None, payloads=[_record(9, run="run-a", at="2026-11-21T10:00:00Z")])
    run = run_selectors.run_usage(user=user, run_id="run-a")
    assert (run["requests"], run["first_at"], run["last_at"]) == (
        3, datetime(2026, 11, 20, 10, 0, tzinfo=UTC), datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    assert run_selectors.run_usage(user=user, run_id="nope") is None
    top = run_selectors.top_runs(user=user, since=datetime(2026, 11, 21, tzinfo=UTC),
                                 until=datetime(2026, 11, 22, tzinfo=UTC))
    # Both runs had a call on the 21st; each with its whole totals, dearest first.
    assert [(r["run_id"], r["requests"]) for r in top] == [("run-a", 3), ("run-b", 1)]
    assert run_selectors.top_runs(user=user, since=datetime(2026, 11, 22, tzinfo=UTC),
                                  until=datetime(2026, 11, 23, tzinfo=UTC)) == []


@pytest.mark.django_db
def test_reprice_moves_run_and_technique_cost(user, catalog):
    usage_ingest(user=user, api_key=None, payloads=[_record(1, run="run-x", at="2026-11-20T10:00:00Z",
                                                            model="acme-new", technique="compress", original=3000)])
    assert RunUsage.objects.get().cost_usd == 0
    ModelPriceFactory(name="acme-new", provider="acme", input_per_million=Decimal(10),
                      output_per_million=Decimal(30), valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    assert usage_reprice(models=["acme-new"]) == 1
    cost = UsageRecord.objects.get().cost_usd
    assert cost == Decimal(1001 * 10 + 101 * 30) / 10**6
    assert RunUsage.objects.get().cost_usd == cost
    assert TechniqueDailyUsage.objects.get().usd_saved == Decimal(1999 * 10) / 10**6
    assert_exact()


@pytest.mark.django_db
def test_rebuild_recomputes_runs_whole_and_techniques(user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    RunUsage.objects.update(requests=99, cost_usd=0)
    TechniqueDailyUsage.objects.update(requests=99)
    # Only the 21st: run-a, which began on the 20th, comes back with all three calls.
    daily_usage_rebuild(start=date(2026, 11, 21), end=date(2026, 11, 21))
    assert RunUsage.objects.get(run_id="run-a").requests == 3
    assert TechniqueDailyUsage.objects.get(day=date(2026, 11, 20)).requests == 99  # outside the range
    daily_usage_rebuild(start=date(2026, 11, 20), end=date(2026, 11, 21))
    assert_exact()


@pytest.mark.django_db
def test_rollup_rows_carry_the_records_organization(user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    acme = Organization.objects.create(name="Acme", slug="acme")
    UsageRecord.objects.update(organization=acme)  # attribution as the organizations work fills it
    daily_usage_rebuild(start=date(2026, 11, 20), end=date(2026, 11, 21))
    for model in (DailyUsage, UserDailyUsage, RunUsage, TechniqueDailyUsage):
        assert set(model.objects.values_list("organization_id", flat=True)) == {acme.pk}
    rows = run_selectors.organization_rollup_rows(organization=acme, start=date(2026, 11, 1),
                                                  end=date(2026, 11, 30))
    assert sum(r["requests"] for r in rows) == 5
    assert [r["run_id"] for r in run_selectors.organization_top_runs(
        organization=acme, since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 12, 1, tzinfo=UTC))
    ] == ["run-a", "run-b"]
    # The online rollup sets it too (rows created by a batch; a row keeps the organization it has).
    for model in ROLLUPS:
        model.objects.all().delete()
    daily_usage_add(record_ids=UsageRecord.objects.values_list("pk", flat=True))
    assert set(RunUsage.objects.values_list("organization_id", flat=True)) == {acme.pk}
    assert set(DailyUsage.objects.values_list("organization_id", flat=True)) == {acme.pk}
    assert_exact()


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "/dashboard/?period=90d",
    "/dashboard/?start=2026-11-01&end=2026-11-30",
    "/reports/?start=2026-11-01&end=2026-11-30",
    "/api/v1/reports/cost?format=summary&start=2026-11-01&end=2026-11-30",
    "/api/v1/reports/cost?format=detailed&start=2026-11-01&end=2026-11-30",
    "/api/v1/reports/cost?format=csv&start=2026-11-01&end=2026-11-30",
])
def test_pages_and_reports_never_read_the_ledger(client, user, catalog, url):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200
        b"".join(response.streaming_content) if response.streaming else response.content
    assert [q["sql"] for q in queries if "tokens_usagerecord" in q["sql"]] == []


@pytest.mark.django_db
def test_detailed_report_techniques_and_top_runs_from_the_rollups(client, user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    client.force_login(user)
    body = client.get("/api/v1/reports/cost?format=detailed&start=2026-11-20&end=2026-11-21").json()
    assert [(t["technique"], t["requests"], t["original_tokens"]) for t in body["optimization_impact"]["techniques"]
            ] == [("compress", 3, 2001 + 1500 + 900), ("context_fit", 1, 0)]
    assert [(r["run_id"], r["requests"]) for r in body["top_runs"]] == [("run-a", 3), ("run-b", 1)]


@pytest.mark.django_db
def test_organization_breakdown_equals_the_members_rows_folded(user, other_user, catalog):
    usage_ingest(user=user, api_key=None, payloads=RECORDS)
    usage_ingest(user=other_user, api_key=None, payloads=[
        _record(20, run="run-z", at="2026-11-21T08:00:00Z", agent="writer", tool="search"),
        _record(21, run="run-z", at="2026-11-22T08:00:00Z", agent="planner")])
    acme = Organization.objects.create(name="Acme", slug="acme")
    UsageRecord.objects.update(organization=acme)
    daily_usage_rebuild(start=date(2026, 11, 20), end=date(2026, 11, 22))
    period = selectors.period_parse(start="2026-11-20", end="2026-11-22")
    folded = selectors.usage_breakdown(rows=list(DailyUsage.objects.values()), period=period)
    assert org_selectors.organization_breakdown(organization=acme, period=period) == folded
    assert folded["totals"]["requests"] == 7
    assert [row["key"] for row in folded["by_agent"]][0] in ("planner", "writer")
