"""Reads of the organization dashboard: all members' spend, filtered, against the previous period.

These read the ledger on its ``(organization, occurred_at)`` index: the rollups
are per user, and an organization view filters by project, key and tag,
which the rollups do not carry. Cost follows the organization's records in
the two periods (this one and the one before), a handful of grouped queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from analytics.breakdown import rollup_breakdown
from analytics.models import DailyUsage
from analytics.selectors import Period
from core.errors import InvalidInput
from core.money import ZERO
from organizations.models import Membership, Organization, Project
from tokens.models import ApiKey, UsageRecord

FILTERS = ("user", "project", "key", "tag", "agent", "model")
MAX_TEXT = {"tag": 100, "agent": 100, "model": 200}
TOP = 10


@dataclass(frozen=True)
class OrgFilters:
    user: Any = None
    project: Project | None = None
    key: ApiKey | None = None
    tag: str = ""
    agent: str = ""
    model: str = ""

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        values = {
            "user": self.user.get_username() if self.user is not None else "",
            "project": self.project.slug if self.project is not None else "",
            "key": str(self.key.pk) if self.key is not None else "",
            "tag": self.tag,
            "agent": self.agent,
            "model": self.model,
        }
        return {k: v for k, v in values.items() if v}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def org_members(*, organization: Organization) -> QuerySet:
    return get_user_model().objects.filter(memberships__organization=organization).order_by("username")


def org_keys(*, organization: Organization) -> QuerySet:
    """Keys that can spend for the organization: its projects' keys and its members' keys of no project.

    A member's key of another organization's project is that organization's business: not listed here.
    """
    return (
        ApiKey.objects.filter(
            Q(project__organization=organization)
            | Q(project__isnull=True, user__memberships__organization=organization)
        )
        .select_related("user")
        .distinct()
        .order_by("name", "pk")
    )


def org_filters_parse(*, organization: Organization, params) -> OrgFilters:
    """Query parameters to filters; anything that is not this organization's raises InvalidInput (400)."""
    values: dict[str, Any] = {}
    for name, limit in MAX_TEXT.items():
        text = params.get(name, "")
        if len(text) > limit or any(ord(c) < 32 for c in text):
            raise _bad(name, f"{name} must be at most {limit} printable characters.")
        values[name] = text.strip()
    username = params.get("user", "").strip()
    if username:
        values["user"] = org_members(organization=organization).filter(username=username).first()
        if values["user"] is None:
            raise _bad("user", f"{username[:150]!r} is not a member of {organization.name}.")
    slug = params.get("project", "").strip()
    if slug:
        values["project"] = Project.objects.filter(organization=organization, slug=slug).first()
        if values["project"] is None:
            raise _bad("project", f"{organization.name} has no project {slug[:60]!r}.")
    key = params.get("key", "").strip()
    if key:
        if not key.isdigit() or len(key) > 18:
            raise _bad("key", "key must be the number of one of the organization's keys.")
        values["key"] = org_keys(organization=organization).filter(pk=int(key)).first()
        if values["key"] is None:
            raise _bad("key", f"{organization.name} has no key {key}.")
    return OrgFilters(**values)


def _tag_filter(qs: QuerySet, tag: str) -> QuerySet:
    if connection.vendor == "postgresql":
        return qs.filter(tags__contains=[tag])
    # SQLite has no JSON containment lookup: test membership of the list with json_each.
    table = UsageRecord._meta.db_table
    return qs.extra(where=[f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)'],
                    params=[tag])


def org_usage(*, organization: Organization, filters: OrgFilters, since, until) -> QuerySet:
    """The organization's ledger rows in [since, until) that pass the filters."""
    qs = UsageRecord.objects.filter(organization=organization, occurred_at__gte=since, occurred_at__lt=until)
    for field, value in (("user", filters.user), ("project", filters.project), ("api_key", filters.key)):
        if value is not None:
            qs = qs.filter(**{field: value})
    if filters.agent:
        qs = qs.filter(agent=filters.agent)
    if filters.model:
        qs = qs.filter(model=filters.model)
    if filters.tag:
        qs = _tag_filter(qs, filters.tag)
    return qs


_TOTALS = {
    "requests": Count("id"),
    "total_tokens": Sum("total_tokens"),
    "cost_usd": Sum("cost_usd"),
    "cache_hits": Count("id", filter=Q(cache_hit=True) | Q(cached_input_tokens__gt=0)),
    "optimized": Count("id", filter=~Q(optimization_technique="")),
}


def _totals(qs: QuerySet) -> dict[str, Any]:
    row = qs.aggregate(**_TOTALS)
    return {
        "requests": row["requests"] or 0,
        "total_tokens": row["total_tokens"] or 0,
        "cost_usd": Decimal(row["cost_usd"] or ZERO),
        "cache_hits": row["cache_hits"] or 0,
        "optimized": row["optimized"] or 0,
    }


def change(current, previous) -> dict[str, Any]:
    """The change from the previous period: difference and percentage (None when there was nothing before)."""
    delta = current - previous
    percent = (Decimal(delta) * 100 / Decimal(previous)).quantize(Decimal("0.1")) if previous else None
    return {"previous": previous, "delta": delta, "percent": percent}


def latency_percentiles(qs: QuerySet) -> dict[str, int | None]:
    """p50 and p95 latency (nearest rank) of the calls that reported one; two indexed offsets, no full read."""
    timed = qs.filter(latency_ms__isnull=False)
    count = timed.count()
    out: dict[str, int | None] = {"count": count, "p50": None, "p95": None}
    if count:
        ordered = timed.order_by("latency_ms").values_list("latency_ms", flat=True)
        for name, share in (("p50", 50), ("p95", 95)):
            rank = max(1, -(-share * count // 100))  # ceil(share% of count)
            out[name] = ordered[rank - 1]
    return out


def _grouped(qs: QuerySet, field: str) -> list[dict[str, Any]]:
    return list(
        qs.values(field)
        .annotate(requests=Count("id"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd"))
        .order_by("-cost_usd", "-total_tokens", field)[:TOP]
    )


def org_top_runs(qs: QuerySet) -> list[dict[str, Any]]:
    return list(
        qs.exclude(run_id="")
        .values("user__username", "run_id")
        .annotate(requests=Count("id"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd"))
        .order_by("-cost_usd", "-total_tokens", "run_id")[:TOP]
    )


def org_dashboard(*, organization: Organization, filters: OrgFilters, period: Period) -> dict[str, Any]:
    """Everything the organization view shows for ``period``, and the same-length period before it."""
    current = org_usage(organization=organization, filters=filters, since=period.since, until=period.until)
    before = org_usage(
        organization=organization, filters=filters,
        since=period.since - timedelta(days=period.days), until=period.since,
    )
    totals, previous = _totals(current), _totals(before)
    daily = {
        row["day"]: Decimal(row["cost_usd"] or ZERO)
        for row in current.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day").annotate(cost_usd=Sum("cost_usd")).order_by()
    }
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    projects = {p.pk: p for p in Project.objects.filter(organization=organization)}
    keys = {k.pk: k for k in org_keys(organization=organization)}
    return {
        "organization": organization,
        "period": period,
        "previous_period": Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1)),
        "totals": totals,
        "change": {name: change(totals[name], previous[name]) for name in ("cost_usd", "total_tokens", "requests")},
        "latency": latency_percentiles(current),
        "daily": [(day, daily.get(day, ZERO)) for day in days],
        "by_user": _grouped(current, "user__username"),
        "by_project": [
            {**row, "project": projects.get(row["project"])} for row in _grouped(current, "project")
        ],
        "by_key": [{**row, "key": keys.get(row["api_key"])} for row in _grouped(current, "api_key")],
        "by_agent": _grouped(current, "agent"),
        "by_model": _grouped(current, "model"),
        "top_runs": org_top_runs(current),
    }


def org_filter_choices(*, organization: Organization) -> dict[str, Any]:
    """What the filter form offers: members, projects, keys (agents, models and tags are typed)."""
    return {
        "members": list(org_members(organization=organization).values_list("username", flat=True)),
        "projects": list(Project.objects.filter(organization=organization).values_list("slug", "name")),
        "keys": [(k.pk, f"{k.name} ({k.key_prefix}…, {k.user.get_username()})")
                 for k in org_keys(organization=organization)],
    }


def orgs_managed_by(*, user) -> list[Organization]:
    """Organizations ``user`` is an owner or admin of (staff open any other by its URL)."""
    return list(
        Organization.objects.filter(
            memberships__user=user, memberships__role__in=Membership.MANAGER_ROLES
        ).order_by("name", "pk")
    )


def org_for_viewer(*, user, slug: str) -> Organization | None:
    """The organization ``slug`` if ``user`` may see its dashboard (staff, owner, admin), else None."""
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        return None
    if user.is_staff:
        return organization
    managed = Membership.objects.filter(
        organization=organization, user=user, role__in=Membership.MANAGER_ROLES
    ).exists()
    return organization if managed else None


def organization_breakdown(*, organization, period: Period) -> dict[str, Any]:
    """What a user's dashboard shows (totals, by day, agent, model and tool), for an organization, from the
    rollups summed in SQL (its members' rows are members x days x agent/model/tool)."""
    rows = DailyUsage.objects.filter(organization=organization, day__gte=period.start, day__lte=period.end)
    return rollup_breakdown(rows=rows, period=period)
