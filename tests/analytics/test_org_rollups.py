"""The organization view reads the organization rollups: its figures equal the ledger's under every filter,
the rollups follow a rebuild, and the unfiltered view reads no ledger row."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import org_selectors
from analytics.models import OrgDailyUsage, OrgLatencyDaily, OrgTagDailyUsage
from analytics.org_rollup_reads import percentiles
from analytics.periods import Period
from analytics.rollups import ORG_ROLLUPS, daily_usage_rebuild, latency_bucket
from ingestion.services import usage_ingest
from tests.analytics.org_fixtures import acme_org
from tests.analytics.org_rollup_reference import ledger_org_rollups, rollup_org_rollups
from tokens.models import UsageRecord

TODAY = datetime.now(UTC).date()
PERIOD = Period(TODAY - timedelta(days=12), TODAY - timedelta(days=1))
AGENTS, MODELS = ("planner", "writer", "critic"), ("gpt-4o", "gpt-4o-mini")
TAGS = (["prod"], ["prod", "eu"], [], ["dev"])


def _payload(n: int) -> dict:
    day = TODAY - timedelta(days=1 + n % 20)  # some in the period before
    return {
        "request_id": f"o-{n}", "agent": AGENTS[n % 3], "model": MODELS[n % 2], "tags": TAGS[n % 4],
        "run_id": f"run-{n % 9}" if n % 5 else "",
        # Uneven sums: no two groups tie on cost and tokens.
        "prompt_tokens": 100 + 13 * n + (n * n) % 101 * 5, "completion_tokens": 7 * n + n % 11 + (n % 3) * 29,
        "latency_ms": 40 + 97 * n, "occurred_at": f"{day.isoformat()}T{n % 24:02d}:{n % 60:02d}:00Z",
        **({"cache_hit": True} if n % 7 == 0 else {}),
        **({"optimization": {"technique": "compress", "original_tokens": 900}} if n % 6 == 0 else {}),
    }


@pytest.fixture
def org(db, catalog):
    data = acme_org()
    usage_ingest(user=data["mia"], api_key=data["key"], payloads=[_payload(n) for n in range(0, 120, 2)])
    usage_ingest(user=data["adam"], api_key=None, payloads=[_payload(n) for n in range(1, 120, 2)])
    usage_ingest(user=data["bob"], api_key=None, payloads=[_payload(n) for n in range(5)])  # globex
    return data


def _ledger_view(organization, filters: org_selectors.OrgFilters, period: Period) -> dict:
    """What the view shows, computed from the ledger records in Python."""
    records = [r for r in UsageRecord.objects.filter(organization=organization).select_related("user")
               if period.since <= r.occurred_at < period.until
               and (filters.user is None or r.user_id == filters.user.pk)
               and (filters.project is None or r.project_id == filters.project.pk)
               and (filters.key is None or r.api_key_id == filters.key.pk)
               and (not filters.tag or filters.tag in r.tags)
               and (not filters.agent or r.agent == filters.agent)
               and (not filters.model or r.model == filters.model)]
    totals = {"requests": len(records), "total_tokens": sum(r.total_tokens for r in records),
              "cost_usd": sum((r.cost_usd for r in records), Decimal(0)),
              "cache_hits": sum(r.cache_hit or r.cached_input_tokens > 0 for r in records),
              "optimized": sum(r.optimization_technique != "" for r in records)}

    def grouped(key) -> list:
        sums = defaultdict(lambda: [0, 0, Decimal(0)])
        for r in records:
            s = sums[key(r)]
            s[0], s[1], s[2] = s[0] + 1, s[1] + r.total_tokens, s[2] + r.cost_usd
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1][2], -kv[1][1], kv[0] if kv[0] is not None else -1))
        return [(k, n, t, c) for k, (n, t, c) in ranked[:10]]

    daily = defaultdict(Decimal)
    for r in records:
        daily[r.occurred_at.date()] += r.cost_usd
    latencies = sorted(r.latency_ms for r in records if r.latency_ms is not None)
    return {
        "totals": totals,
        "daily": [(period.start + timedelta(days=i), daily.get(period.start + timedelta(days=i), Decimal(0)))
                  for i in range(period.days)],
        "by_user": grouped(lambda r: r.user.username), "by_project": grouped(lambda r: r.project_id),
        "by_key": grouped(lambda r: r.api_key_id), "by_agent": grouped(lambda r: r.agent),
        "by_model": grouped(lambda r: r.model),
        "latency": percentiles([(v, 1) for v in latencies]),
    }


def _shown(data: dict) -> dict:
    def rows(name, key) -> list:
        return [(key(r), r["requests"], r["total_tokens"], r["cost_usd"]) for r in data[name]]

    pk = lambda obj: obj.pk if obj is not None else None  # noqa: E731
    return {
        "totals": data["totals"],
        "daily": data["daily"],
        "by_user": rows("by_user", lambda r: r["user__username"]),
        "by_project": rows("by_project", lambda r: pk(r["project"])),
        "by_key": rows("by_key", lambda r: pk(r["key"])),
        "by_agent": rows("by_agent", lambda r: r["agent"]), "by_model": rows("by_model", lambda r: r["model"]),
        "latency": data["latency"],
    }


@pytest.mark.parametrize("choice", ["none", "user", "project", "key", "tag", "agent", "model", "all"])
def test_the_view_equals_the_ledger_under_every_filter(org, choice):
    values = {"user": org["mia"], "project": org["web"], "key": org["key"], "tag": "eu", "agent": "writer",
              "model": "gpt-4o"}
    chosen = values if choice == "all" else {choice: values[choice]} if choice in values else {}
    filters = org_selectors.OrgFilters(**chosen)
    data = org_selectors.org_dashboard(organization=org["org"], filters=filters, period=PERIOD)
    expected = _ledger_view(org["org"], filters, PERIOD)
    if choice == "none":
        # Unfiltered latency comes from the histogram: exact below 1 s, three significant digits above.
        latencies = sorted(r.latency_ms for r in UsageRecord.objects.filter(organization=org["org"])
                           if PERIOD.since <= r.occurred_at < PERIOD.until)
        expected["latency"] = percentiles([(latency_bucket(v), 1) for v in latencies])
        assert expected["latency"]["p95"] != _ledger_view(org["org"], filters, PERIOD)["latency"]["p95"]
    assert _shown(data) == expected
    assert expected["totals"]["requests"] > 0 or choice == "all"
    previous = Period(PERIOD.start - timedelta(days=PERIOD.days), PERIOD.start - timedelta(days=1))
    before = _ledger_view(org["org"], filters, previous)["totals"]
    assert data["change"]["requests"]["previous"] == before["requests"]
    assert data["change"]["cost_usd"]["previous"] == before["cost_usd"]


def test_top_runs_are_the_runs_active_in_the_period_with_their_whole_totals(org):
    data = org_selectors.org_dashboard(organization=org["org"], filters=org_selectors.OrgFilters(), period=PERIOD)
    runs = defaultdict(lambda: [0, Decimal(0)])
    for r in UsageRecord.objects.filter(organization=org["org"]).exclude(run_id="").select_related("user"):
        runs[(r.user.username, r.run_id)][0] += 1
        runs[(r.user.username, r.run_id)][1] += r.cost_usd
    top = sorted(runs.items(), key=lambda kv: -kv[1][1])[:10]
    assert [(r["user__username"], r["run_id"], r["requests"], r["cost_usd"]) for r in data["top_runs"]] == [
        (*key, n, cost) for key, (n, cost) in top]
    assert data["top_runs_whole"] is True


def test_the_page_says_which_totals_its_top_runs_show(client, org):
    client.force_login(org["olga"])
    page = client.get("/dashboard/org/acme/?period=30d").content.decode()
    assert "most expensive runs active in the period, with their whole totals" in page
    page = client.get("/dashboard/org/acme/?period=30d&agent=writer").content.decode()
    assert "most expensive in the period, its calls only" in page


def test_the_unfiltered_view_reads_no_ledger_row(client, org):
    client.force_login(org["olga"])
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/dashboard/org/acme/?period=90d")
    assert response.status_code == 200
    assert [q["sql"] for q in queries if "tokens_usagerecord" in q["sql"]] == []
    assert response.context["totals"]["requests"] == 120


def test_latency_buckets_are_exact_below_a_second_and_within_one_percent_above():
    assert [latency_bucket(v) for v in (0, 1, 999, 1000, 1234, 9999, 45678, 2**31 - 1)] == [
        0, 1, 999, 1000, 1230, 9990, 45600, 2_140_000_000]
    assert all(0 <= v - latency_bucket(v) <= v / 100 for v in range(1000, 200_000, 7))


def test_the_rollups_follow_a_rebuild(org):
    assert rollup_org_rollups() == ledger_org_rollups()
    assert OrgTagDailyUsage.objects.filter(tag="eu").exists() and OrgLatencyDaily.objects.exists()
    OrgDailyUsage.objects.update(requests=999)
    OrgLatencyDaily.objects.all().delete()
    daily_usage_rebuild(start=TODAY - timedelta(days=30), end=TODAY, user=org["adam"])
    # The member's rows, and the whole latency histogram of the member's organization, are recomputed.
    assert set(OrgDailyUsage.objects.filter(user=org["adam"]).values_list("requests", flat=True)) != {999}
    assert set(OrgDailyUsage.objects.filter(user=org["mia"]).values_list("requests", flat=True)) == {999}
    ledger_latency = ledger_org_rollups()[2]
    assert rollup_org_rollups()[2] == {k: v for k, v in ledger_latency.items() if k[0] == org["org"].pk}
    for model in ORG_ROLLUPS:
        model.objects.all().delete()
    daily_usage_rebuild(start=TODAY - timedelta(days=30), end=TODAY)
    assert rollup_org_rollups() == ledger_org_rollups()
