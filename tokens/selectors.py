"""Reads for the metering core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from core.money import ZERO
from tokens.counts import TOKEN_FIELDS, with_prompt_and_completion
from tokens.models import ModelPrice, Run, UsageRecord

GROUPINGS = {"agent": "agent", "model": "model", "tool": "tool", "day": "day"}

_SUMS = {
    "requests": Count("id"),
    **{name: Coalesce(Sum(name), 0) for name in TOKEN_FIELDS},
    "cost_usd": Coalesce(Sum("cost_usd"), ZERO),
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


def usage_summary(
    *, user, group_by: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Totals, and totals per agent, model, tool or UTC day."""
    qs = usage_filter(user=user, start=start, end=end)
    totals = with_prompt_and_completion(qs.aggregate(**_SUMS))
    if group_by == "day":
        grouped = qs.annotate(day=TruncDate("occurred_at")).values("day")
    else:
        grouped = qs.values(GROUPINGS[group_by])
    rows = grouped.annotate(**_SUMS).order_by(group_by if group_by == "day" else "-cost_usd")
    groups = []
    for values in rows:
        key = values.pop(group_by)
        groups.append({"key": key.isoformat() if group_by == "day" else key, **with_prompt_and_completion(values)})
    return {"group_by": group_by, "totals": totals, "groups": groups}


def run_metrics(*, run: Run) -> dict[str, Any]:
    """A run's token metrics, exact sums of its records, by agent and by tool."""
    qs = UsageRecord.objects.filter(user_id=run.user_id, run_id=run.run_id)

    def by(dimension: str) -> dict[str, dict[str, Any]]:
        rows = qs.values(dimension).annotate(**_SUMS).order_by(dimension)
        return {row.pop(dimension): with_prompt_and_completion(row) for row in rows}

    return {"totals": with_prompt_and_completion(qs.aggregate(**_SUMS)), "by_agent": by("agent"), "by_tool": by("tool")}


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
