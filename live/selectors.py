"""Reads for the live page: today's totals, breakdowns, the latest calls and budget gauges."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.selectors import budgets_for
from tokens.events import token_usage_data
from tokens.models import UsageRecord

LATEST_CALLS = 50
ZERO, ONE = Decimal(0), Decimal(1)
WARN_SHARE_LEFT = Decimal("0.2")  # the gauges turn amber from 80 % used

_TOTALS = {
    "calls": Count("id"),
    "tokens": Coalesce(Sum("total_tokens"), 0),
    "cost_usd": Coalesce(Sum("cost_usd"), Decimal(0)),
}


def live_day_bounds(*, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today in the site's time zone, as [start, end)."""
    local = timezone.localtime(now or timezone.now())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def live_records(*, viewer, scope_all: bool) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.all() if scope_all else UsageRecord.objects.for_user(viewer)


def _share_left(remaining, limit) -> Decimal | None:
    """What is left of one limit as a fraction of it; negative past the limit."""
    if limit is None or remaining is None:
        return None
    if limit <= 0:
        return ZERO if remaining >= 0 else Decimal("-Infinity")
    return Decimal(remaining) / Decimal(limit)


def live_budget_tile(*, budgets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tightest budget: the least left as a share of its limit (live holds count as used).

    A budget with both limits counts by the tighter one, and the tile shows
    that unit. Past the limit it shows nothing left and how far over it is,
    never a negative amount. Ties go to the older budget.
    """
    best = None
    for b in budgets:
        for unit, remaining, limit in (("usd", b.get("remaining_usd"), b.get("limit_usd")),
                                       ("tokens", b.get("remaining_tokens"), b.get("limit_tokens"))):
            share = _share_left(remaining, limit)
            if share is not None and (best is None or share < best[0]):
                best = (share, unit, remaining, b)
    if best is None:
        return None
    share, unit, remaining, b = best
    percent_left = min(max(share, ZERO), ONE) * 100
    return {
        "id": b["id"],
        "label": b.get("label", ""),
        "period": b["period"],
        "unit": unit,
        "left": remaining if remaining > 0 else (ZERO if unit == "usd" else 0),
        "over": -remaining if remaining < 0 else None,
        "percent_left": percent_left.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
        "level": "bad" if share <= 0 else "warn" if share <= WARN_SHARE_LEFT else "ok",
    }


def live_budget_part(*, viewer) -> dict[str, Any]:
    """The budget gauges and the tightest-budget tile: first paint and the page's refetch alike."""
    budgets = budgets_for(user=viewer)
    return {"budgets": budgets, "budget_tile": live_budget_tile(budgets=budgets)}


def live_snapshot(*, viewer, scope_all: bool, now: datetime | None = None) -> dict[str, Any]:
    """Everything the live page paints first; live events then update it in the browser."""
    start, end = live_day_bounds(now=now)
    records = live_records(viewer=viewer, scope_all=scope_all)
    today = records.filter(occurred_at__gte=start, occurred_at__lt=end)
    by_agent = today.values("agent").annotate(**_TOTALS).order_by("-cost_usd", "-tokens", "agent")
    by_user = []
    if scope_all:
        per_user = today.values("user__username").annotate(**_TOTALS).order_by("-cost_usd", "user__username")
        by_user = [{"user": row.pop("user__username"), **row} for row in per_user]
    latest = []
    for record in records.select_related("user").order_by("-occurred_at", "-id")[:LATEST_CALLS]:
        row = token_usage_data(record)
        row["occurred_at"] = record.occurred_at  # a datetime for the template; JSON gets ISO
        latest.append(row)
    return {
        "scope_all": scope_all,
        "day_start": start,
        "day_end": end,
        "totals": today.aggregate(**_TOTALS),
        "by_agent": list(by_agent),
        "by_user": by_user,
        "latest": latest,
        **live_budget_part(viewer=viewer),
    }
