"""Reads for the live page: today's totals, breakdowns, the latest calls and budget gauges."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from tokens.live import token_usage_data
from tokens.models import UsageRecord

LATEST_CALLS = 50

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


def live_budgets(*, viewer) -> list[dict[str, Any]]:
    try:
        from budgets.selectors import budgets_for_user
    except ImportError:  # budgets not built yet: no gauges
        return []
    return budgets_for_user(user=viewer)


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
        "budgets": live_budgets(viewer=viewer),
    }
