"""Reads for the metering core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from core.money import ZERO
from organizations.models import Membership
from tokens.counts import TOKEN_FIELDS, with_prompt_and_completion
from tokens.models import ApiKey, ModelPrice, Run, UsageRecord, UsageTag

GROUPINGS = {"agent": "agent", "model": "model", "tool": "tool", "day": "day", "project": "project_id",
             "tag": "tag"}

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
    tag: str | None = None,
    project_id: int | None = None,
) -> QuerySet[UsageRecord]:
    qs = UsageRecord.objects.for_user(user).between(start, end)
    if tag:
        # The indexed (user, tag, occurred_at) rows, not a scan of every record's JSON list.
        tagged = UsageTag.objects.filter(user=user, tag=tag)
        if start is not None:
            tagged = tagged.filter(occurred_at__gte=start)
        if end is not None:
            tagged = tagged.filter(occurred_at__lt=end)
        qs = qs.filter(pk__in=tagged.values("record_id"))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
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
    *, user, group_by: str, start: datetime | None = None, end: datetime | None = None, tag: str | None = None
) -> dict[str, Any]:
    """Totals, and totals per agent, model, tool, UTC day, project or tag (a record counts in each of its tags)."""
    qs = usage_filter(user=user, start=start, end=end, tag=tag)
    totals = with_prompt_and_completion(qs.aggregate(**_SUMS))
    if group_by == "tag":
        return {"group_by": group_by, "totals": totals, "groups": _by_tag(user=user, start=start, end=end)}
    if group_by == "day":
        grouped = qs.annotate(day=TruncDate("occurred_at")).values("day")
    else:
        grouped = qs.values(GROUPINGS[group_by])
    rows = grouped.annotate(**_SUMS).order_by(group_by if group_by == "day" else "-cost_usd")
    groups = []
    for values in rows:
        key = values.pop(GROUPINGS[group_by] if group_by != "day" else "day")
        key = key.isoformat() if group_by == "day" else "" if key is None else str(key)
        groups.append({"key": key, **with_prompt_and_completion(values)})
    return {"group_by": group_by, "totals": totals, "groups": groups}


_TAG_SUMS = {
    "requests": Count("record_id"),
    **{name: Coalesce(Sum(f"record__{name}"), 0) for name in TOKEN_FIELDS},
    "cost_usd": Coalesce(Sum("record__cost_usd"), ZERO),
}


def _by_tag(*, user, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Totals per tag from the UsageTag rows (untagged records are in no group)."""
    qs = UsageTag.objects.filter(user=user)
    if start is not None:
        qs = qs.filter(occurred_at__gte=start)
    if end is not None:
        qs = qs.filter(occurred_at__lt=end)
    rows = qs.values("tag").annotate(**_TAG_SUMS).order_by("-cost_usd", "tag")
    return [{"key": values.pop("tag"), **with_prompt_and_completion(values)} for values in rows]


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


def api_keys_visible(*, user) -> QuerySet[ApiKey]:
    """The caller's own keys, and the keys of the projects of organizations they own or administer."""
    managed = Membership.objects.filter(user=user, role__in=Membership.MANAGER_ROLES).values("organization_id")
    return (
        ApiKey.objects.filter(Q(user=user) | Q(project__organization_id__in=managed))
        .select_related("user", "project__organization")
        .order_by("-created_at", "-pk")
    )
