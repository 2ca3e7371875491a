"""Reads for the metering core."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from tokens.models import ModelPrice, Run, UsageRecord

GROUPINGS = {"agent": "agent", "model": "model", "tool": "tool", "day": "day"}

_SUMS = {
    "requests": Count("id"),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "cached_input_tokens": Coalesce(Sum("cached_input_tokens"), 0),
    "cache_write_tokens": Coalesce(Sum("cache_write_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "reasoning_tokens": Coalesce(Sum("reasoning_tokens"), 0),
    "total_tokens": Coalesce(Sum("total_tokens"), 0),
    "cost_usd": Coalesce(Sum("cost_usd"), Decimal(0)),
}


def usage_filter(
    *,
    user,
    start: datetime | None = None,
    end: datetime | None = None,
    agent: str | None = None,
    model: str | None = None,
    tool: str | None = None,
    run_id: str | None = None,
) -> QuerySet[UsageRecord]:
    qs = UsageRecord.objects.for_user(user).between(start, end)
    if agent:
        qs = qs.filter(agent=agent)
    if model:
        qs = qs.filter(model=model)
    if tool:
        qs = qs.filter(tool=tool)
    if run_id:
        qs = qs.filter(run_id=run_id)
    return qs


def _row(values: dict[str, Any]) -> dict[str, Any]:
    values["prompt_tokens"] = (
        values["input_tokens"] + values["cached_input_tokens"] + values["cache_write_tokens"]
    )
    values["completion_tokens"] = values["output_tokens"] + values["reasoning_tokens"]
    return values


def usage_summary(
    *, user, group_by: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Totals, and totals per agent, model, tool or UTC day."""
    qs = usage_filter(user=user, start=start, end=end)
    totals = _row(qs.aggregate(**_SUMS))
    if group_by == "day":
        grouped = qs.annotate(day=TruncDate("occurred_at")).values("day")
    else:
        grouped = qs.values(GROUPINGS[group_by])
    rows = grouped.annotate(**_SUMS).order_by(group_by if group_by == "day" else "-cost_usd")
    groups = []
    for values in rows:
        key = values.pop(group_by)
        groups.append({"key": key.isoformat() if group_by == "day" else key, **_row(values)})
    return {"group_by": group_by, "totals": totals, "groups": groups}


def run_metrics(*, run: Run) -> dict[str, Any]:
    """A run's token metrics, exact sums of its records, by agent and by tool."""
    qs = UsageRecord.objects.filter(user_id=run.user_id, run_id=run.run_id)
    totals = _row(qs.aggregate(**_SUMS))
    by_agent = {
        row.pop("agent"): _row(row) for row in qs.values("agent").annotate(**_SUMS).order_by("agent")
    }
    by_tool = {
        row.pop("tool"): _row(row) for row in qs.values("tool").annotate(**_SUMS).order_by("tool")
    }
    return {"totals": totals, "by_agent": by_agent, "by_tool": by_tool}


def run_get(*, user, run_id: str) -> Run | None:
    return Run.objects.filter(user=user, run_id=run_id).first()


def prices_current() -> list[ModelPrice]:
    """The newest version of every model in the catalog."""
    rows = ModelPrice.objects.order_by("name", "-valid_from")
    latest: dict[str, ModelPrice] = {}
    for row in rows:
        latest.setdefault(row.name, row)
    return list(latest.values())


def unpriced_models() -> list[dict[str, Any]]:
    """Models seen in usage with no catalog price, with how many records wait."""
    return list(
        UsageRecord.objects.filter(priced=False)
        .values("model")
        .annotate(records=Count("id"), tokens=Coalesce(Sum(F("total_tokens")), 0))
        .order_by("-records")
    )
