"""Reads of the organization dashboard: all members' spend, filtered, against the previous period.

Totals, breakdowns and the daily chart read the organization rollups, which
carry member, project, key, agent, model and tag; latency and top runs read
them too unless a filter narrows the view past what they carry, then the
ledger on its ``(organization, occurred_at)`` index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum

from analytics.breakdown import rollup_breakdown
from analytics.models import DailyUsage
from analytics.org_rollup_reads import (
    org_rollup_rows,
    rollup_daily_cost,
    rollup_grouped,
    rollup_latency,
    rollup_top_runs,
    rollup_totals,
)
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


def org_top_runs(qs: QuerySet) -> list[dict[str, Any]]:
    return list(
        qs.exclude(run_id="")
        .values("user__username", "run_id")
        .annotate(requests=Count("id"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd"))
        .order_by("-cost_usd", "-total_tokens", "run_id")[:TOP]
    )


def org_dashboard(*, organization: Organization, filters: OrgFilters, period: Period) -> dict[str, Any]:
    """Everything the organization view shows for ``period``, and the same-length period before it, from the
    organization rollups (``analytics.org_rollup_reads`` says what still reads the ledger, and when)."""
    previous_period = Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1))
    current = org_rollup_rows(organization=organization, filters=filters, start=period.start, end=period.end)
    before = org_rollup_rows(organization=organization, filters=filters,
                             start=previous_period.start, end=previous_period.end)
    totals, previous = rollup_totals(current), rollup_totals(before)
    daily = rollup_daily_cost(current)
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    projects = {p.pk: p for p in Project.objects.filter(organization=organization)}
    keys = {k.pk: k for k in org_keys(organization=organization)}
    narrowed = any((filters.project, filters.key, filters.tag, filters.agent, filters.model))
    if narrowed or filters.user is not None:
        ledger = org_usage(organization=organization, filters=filters, since=period.since, until=period.until)
        latency = latency_percentiles(ledger)
    else:
        latency = rollup_latency(organization=organization, start=period.start, end=period.end)
    if narrowed:
        top_runs = org_top_runs(ledger)
    else:
        top_runs = rollup_top_runs(organization=organization, user=filters.user, period=period)
    return {
        "organization": organization,
        "period": period,
        "previous_period": previous_period,
        "totals": totals,
        "change": {name: change(totals[name], previous[name]) for name in ("cost_usd", "total_tokens", "requests")},
        "latency": latency,
        "daily": [(day, daily.get(day, ZERO)) for day in days],
        "by_user": rollup_grouped(current, "by_user"),
        "by_project": [{**row, "project": projects.get(row["project"])}
                       for row in rollup_grouped(current, "by_project")],
        "by_key": [{**row, "key": keys.get(row["api_key"])} for row in rollup_grouped(current, "by_key")],
        "by_agent": rollup_grouped(current, "by_agent"),
        "by_model": rollup_grouped(current, "by_model"),
        "top_runs": top_runs,
        # Whole-run totals (RunUsage) or the period's calls of each run under the filter (the ledger).
        "top_runs_whole": not narrowed,
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
