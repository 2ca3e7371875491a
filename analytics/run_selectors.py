"""Reads of the per-run and per-technique rollups (``RunUsage``, ``TechniqueDailyUsage``) and of an
organization's rollup rows: what pages read instead of the ledger."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Sum

from analytics.models import DailyUsage, RunUsage, TechniqueDailyUsage

RUN_FIELDS = ("run_id", "requests", "total_tokens", "cost_usd", "first_at", "last_at")


def run_usage(*, user, run_id: str) -> dict[str, Any] | None:
    """One run's totals (calls, tokens, cost, first and last call), or None if it has no record."""
    return RunUsage.objects.filter(user=user, run_id=run_id).values(*RUN_FIELDS).first()


def top_runs(*, user, since, until, limit: int = 10) -> list[dict[str, Any]]:
    """The user's most expensive runs active in ``since``..``until`` (a call in it), by their whole totals.

    A run's figures are its totals over all its calls, as on its run page, also when it began before
    the period.
    """
    return list(
        RunUsage.objects.filter(user=user, last_at__gte=since, first_at__lt=until)
        .values(*RUN_FIELDS)
        .order_by("-cost_usd", "-total_tokens", "run_id")[:limit]
    )


def techniques_reported(*, user, start: date, end: date, limit: int = 20) -> list[dict[str, Any]]:
    """Optimization techniques reported on the user's records of UTC days ``start``..``end``, most used first."""
    return list(
        TechniqueDailyUsage.objects.filter(user=user, day__gte=start, day__lte=end)
        .values("technique")
        .annotate(requests=Sum("requests"), original=Sum("original_tokens"), tokens_saved=Sum("tokens_saved"),
                  usd_saved=Sum("usd_saved"), failures=Sum("optimization_failures"))
        .order_by("-requests", "technique")[:limit]
    )


def organization_rollup_rows(*, organization, start: date, end: date) -> list[dict[str, Any]]:
    """An organization's rollup rows of UTC days ``start``..``end``, its members' rows summed in SQL: one per
    day, agent, model and tool (the shape ``selectors.usage_breakdown`` folds), whatever the member count."""
    return list(
        DailyUsage.objects.filter(organization=organization, day__gte=start, day__lte=end)
        .values("day", "agent", "model", "tool")
        .annotate(**{name: Sum(name) for name in DailyUsage.COUNTERS})
        .order_by()
    )


def organization_top_runs(*, organization, since, until, limit: int = 10) -> list[dict[str, Any]]:
    """An organization's most expensive runs active in ``since``..``until``."""
    return list(
        RunUsage.objects.filter(organization=organization, last_at__gte=since, first_at__lt=until)
        .values("user_id", *RUN_FIELDS)
        .order_by("-cost_usd", "-total_tokens", "run_id")[:limit]
    )
