"""The organization view from the organization rollups (``OrgDailyUsage``, ``OrgTagDailyUsage``,
``OrgLatencyDaily``, ``RunUsage``): a 1M-record organization's 90 days are a few thousand rollup rows, where
the ledger is a million (docs/benchmarks.md).

What the rollups cannot answer exactly reads the ledger, narrowed by the filters: the top runs under a
project, key, tag, agent or model filter (``RunUsage`` is per run, not per filter), and latency under any
filter (``OrgLatencyDaily`` is per organization and day).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet, Sum

from analytics.models import OrgDailyUsage, OrgLatencyDaily, OrgTagDailyUsage, RunUsage
from analytics.periods import Period
from core.money import ZERO

TOP = 10
_SUMS = {
    "requests": Sum("requests"),
    "total_tokens": Sum("total_tokens"),
    "cost_usd": Sum("cost_usd"),
    "cache_hits": Sum("cache_hits"),
    "optimized": Sum("optimized_requests"),
}
# Breakdowns: the rollup column and the name the page reads it by.
GROUPS = {"by_user": ("user__username", "user__username"), "by_project": ("project_ref", "project"),
          "by_key": ("key_ref", "api_key"), "by_agent": ("agent", "agent"), "by_model": ("model", "model")}


def org_rollup_rows(*, organization, filters, start, end) -> QuerySet:
    """The organization's rollup rows of UTC days ``start``..``end`` that pass the filters (per tag with a tag)."""
    model = OrgTagDailyUsage if filters.tag else OrgDailyUsage
    rows = model.objects.filter(organization=organization, day__gte=start, day__lte=end)
    if filters.tag:
        rows = rows.filter(tag=filters.tag)
    if filters.user is not None:
        rows = rows.filter(user=filters.user)
    if filters.project is not None:
        rows = rows.filter(project_ref=filters.project.pk)
    if filters.key is not None:
        rows = rows.filter(key_ref=filters.key.pk)
    if filters.agent:
        rows = rows.filter(agent=filters.agent)
    if filters.model:
        rows = rows.filter(model=filters.model)
    return rows


def rollup_totals(rows: QuerySet) -> dict[str, Any]:
    row = rows.aggregate(**_SUMS)
    return {
        "requests": row["requests"] or 0,
        "total_tokens": row["total_tokens"] or 0,
        "cost_usd": Decimal(row["cost_usd"] or ZERO),
        "cache_hits": row["cache_hits"] or 0,
        "optimized": row["optimized"] or 0,
    }


def rollup_daily_cost(rows: QuerySet) -> dict[Any, Decimal]:
    return {row["day"]: Decimal(row["cost_usd"] or ZERO)
            for row in rows.values("day").annotate(cost_usd=Sum("cost_usd")).order_by()}


def rollup_grouped(rows: QuerySet, group: str) -> list[dict[str, Any]]:
    """The ten largest of ``group`` (a key of GROUPS) by cost: rows named as the ledger's would be."""
    column, name = GROUPS[group]
    named = rows.values(**{name: F(column)}) if name != column else rows.values(column)
    out = list(
        named.annotate(requests=Sum("requests"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd"))
        .order_by("-cost_usd", "-total_tokens", name)[:TOP]
    )
    for row in out:
        if name in ("project", "api_key") and row[name] == 0:
            row[name] = None  # 0 is the rollup's "no project" / "no key"
    return out


def rollup_top_runs(*, organization, user, period: Period) -> list[dict[str, Any]]:
    """The organization's (or one member's) most expensive runs active in the period, by their whole totals
    (as on a run page and on a member's dashboard)."""
    runs = RunUsage.objects.filter(organization=organization, last_at__gte=period.since, first_at__lt=period.until)
    if user is not None:
        runs = runs.filter(user=user)
    return list(
        runs.values("user__username", "run_id", "requests", "total_tokens", "cost_usd")
        .order_by("-cost_usd", "-total_tokens", "run_id")[:TOP]
    )


def percentiles(counts: Iterable[tuple[int, int]]) -> dict[str, int | None]:
    """p50 and p95 (nearest rank) of a histogram given as (value, count) pairs in ascending value."""
    counts = list(counts)
    total = sum(n for _, n in counts)
    out: dict[str, int | None] = {"count": total, "p50": None, "p95": None}
    if total:
        for name, share in (("p50", 50), ("p95", 95)):
            rank = max(1, -(-share * total // 100))  # ceil(share% of total)
            seen = 0
            for value, n in counts:
                seen += n
                if seen >= rank:
                    out[name] = value
                    break
    return out


def rollup_latency(*, organization, start, end) -> dict[str, int | None]:
    """p50 and p95 latency of the organization's calls of UTC days ``start``..``end`` that reported one."""
    histogram = (
        OrgLatencyDaily.objects.filter(organization=organization, day__gte=start, day__lte=end)
        .values("latency_bucket").annotate(n=Sum("requests")).order_by("latency_bucket")
        .values_list("latency_bucket", "n")
    )
    return percentiles(histogram)
