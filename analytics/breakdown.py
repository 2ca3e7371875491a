"""Breakdowns of a period's rollup rows summed in SQL: a heavy user's period is up to days x 18
(agent, model, tool) rows and an organization's that times its members, too many values to fetch and fold
in Python per page view (docs/benchmarks.md). Three grouped queries return at most days x agents, models
and tools rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from analytics.models import DailyUsage
from analytics.periods import Period
from core.money import ZERO

_SUMS = {name: Sum(name) for name in DailyUsage.COUNTERS}
_MONEY = ("cost_usd", "list_cost_usd", "usd_saved")


def _empty() -> dict[str, Any]:
    return {name: (ZERO if name in _MONEY else 0) for name in DailyUsage.COUNTERS}


def _add(target: dict[str, Any], row: dict[str, Any]) -> None:
    for name in DailyUsage.COUNTERS:
        target[name] += Decimal(row[name] or 0) if name in _MONEY else (row[name] or 0)


def rollup_breakdown(*, rows: QuerySet[DailyUsage], period: Period) -> dict[str, Any]:
    """What ``selectors.usage_breakdown`` folds from every row, from ``rows`` (DailyUsage of the period)
    grouped by (day, agent), by model and by tool in SQL: totals, by day, agent, model and tool, and cost
    by day and agent."""
    totals = _empty()
    by: dict[str, dict[Any, dict[str, Any]]] = {"agent": {}, "model": {}, "tool": {}, "day": {}}
    day_agent: dict[tuple, Decimal] = {}
    for row in rows.values("day", "agent").annotate(**_SUMS).order_by():
        _add(totals, row)
        for dim in ("day", "agent"):
            _add(by[dim].setdefault(row[dim], _empty()), row)
        day_agent[(row["day"], row["agent"])] = Decimal(row["cost_usd"] or 0)
    for dim in ("model", "tool"):
        for row in rows.values(dim).annotate(**_SUMS).order_by():
            _add(by[dim].setdefault(row[dim], _empty()), row)
    days = [period.start + timedelta(days=i) for i in range(period.days)]

    def ranked(dim: str) -> list[dict[str, Any]]:
        items = sorted(by[dim].items(), key=lambda kv: (-kv[1]["cost_usd"], -kv[1]["total_tokens"], kv[0]))
        return [{"key": key, **values} for key, values in items]

    agents = [item["key"] for item in ranked("agent")]
    return {
        "totals": totals,
        "daily": [{"day": day, **(by["day"].get(day) or _empty())} for day in days],
        "by_agent": ranked("agent"),
        "by_model": ranked("model"),
        "by_tool": ranked("tool"),
        "daily_by_agent": {agent: [day_agent.get((day, agent), ZERO) for day in days] for agent in agents},
        "days": days,
    }
