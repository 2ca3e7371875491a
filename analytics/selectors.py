"""Reads of the analytics app: dashboards and reports come from the DailyUsage rollup.

Everything a page shows for a period is derived from three grouped queries
over the user's rollup rows (by day and agent, by model, by tool:
``analytics.breakdown``), plus one query each for
savings, top runs (the run rollup) and the policy, so a page costs the same at 1M or 10M
ledger rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.utils import timezone

from analytics import run_selectors
from analytics.breakdown import rollup_breakdown
from analytics.models import Alert, DailyUsage, OptimizationPolicy, UserDailyUsage
from analytics.periods import Period
from budgets.labels import budget_label
from budgets.selectors import budgets_for_user
from core.money import ZERO, dollars
from optimization.models import SavingsRecord
from tokens.counts import COMPLETION_FIELDS, PROMPT_FIELDS
from tokens.selectors import unpriced_models

PERIOD_CHOICES = (7, 30, 90)
MAX_PERIOD_DAYS = 366


class PeriodError(ValueError):
    """A period that cannot be read; ``field`` is the parameter to blame (period, start or end)."""

    def __init__(self, message: str, field: str = "period") -> None:
        super().__init__(message)
        self.field = field


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PeriodError("start and end must be ISO dates (YYYY-MM-DD).", field) from exc


def period_parse(
    *, period: str | None = None, start: str | None = None, end: str | None = None, today: date | None = None
) -> Period:
    """``7d``/``30d``/``90d`` (any 1..366), or ``start``..``end`` ISO dates (UTC days, inclusive)."""
    today = today or timezone.now().astimezone(UTC).date()
    if start or end:
        first, last = _day(start, "start") if start else None, _day(end, "end") if end else today
        if first is None:
            raise PeriodError("A custom period needs a start date.", "start")
        if last < first:
            raise PeriodError("end must not be before start.", "end")
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise PeriodError(f"A period is at most {MAX_PERIOD_DAYS} days.", "start")
        return Period(first, last)
    text = (period or "30d").strip().lower()
    digits = text[:-1] if text.endswith("d") else text
    if not digits.isdigit() or not 1 <= int(digits) <= MAX_PERIOD_DAYS:
        raise PeriodError(f"period must look like 7d, 30d or 90d (1 to {MAX_PERIOD_DAYS} days).")
    days = int(digits)
    return Period(today - timedelta(days=days - 1), today)


def _dec(value) -> Decimal:
    return ZERO if value is None else Decimal(value)


def _ratio(numerator, denominator) -> Decimal | None:
    return (Decimal(numerator) / Decimal(denominator)) if denominator else None


_GROUP_SUMS = {name: Sum(name) for name in DailyUsage.COUNTERS}
_MONEY = ("cost_usd", "usd_saved")


def _empty() -> dict[str, Any]:
    return {name: (ZERO if name in _MONEY else 0) for name in _GROUP_SUMS}


def _add(target: dict[str, Any], row: dict[str, Any]) -> None:
    for name in _GROUP_SUMS:
        target[name] += _dec(row[name]) if name in _MONEY else (row[name] or 0)


def rollup_rows(*, user, period: Period) -> list[dict[str, Any]]:
    """The user's rollup rows of the period (one query); each row one (day, agent, model, tool)."""
    return list(
        DailyUsage.objects.filter(user=user, day__gte=period.start, day__lte=period.end)
        .values("day", "agent", "model", "tool", *_GROUP_SUMS)
        .order_by()
    )


def usage_breakdown(*, rows: list[dict[str, Any]], period: Period) -> dict[str, Any]:
    """Totals and breakdowns by day, agent, model, tool and day x agent from rollup rows."""
    totals = _empty()
    by: dict[str, dict[Any, dict[str, Any]]] = {"agent": {}, "model": {}, "tool": {}, "day": {}}
    day_agent: dict[tuple[date, str], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        _add(totals, row)
        for dim in by:
            bucket = by[dim].get(row[dim])
            if bucket is None:
                bucket = by[dim][row[dim]] = _empty()
            _add(bucket, row)
        day_agent[(row["day"], row["agent"])] += _dec(row["cost_usd"])
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    daily = []
    for day in days:
        values = by["day"].get(day) or _empty()
        daily.append({"day": day, **values})
    agents = sorted(by["agent"], key=lambda a: (-by["agent"][a]["cost_usd"], a))

    def ranked(dim: str) -> list[dict[str, Any]]:
        items = sorted(by[dim].items(), key=lambda kv: (-kv[1]["cost_usd"], -kv[1]["total_tokens"], kv[0]))
        return [{"key": key, **values} for key, values in items]

    return {
        "totals": totals,
        "daily": daily,
        "by_agent": ranked("agent"),
        "by_model": ranked("model"),
        "by_tool": ranked("tool"),
        "daily_by_agent": {agent: [day_agent.get((day, agent), ZERO) for day in days] for agent in agents},
        "days": days,
    }


def savings_by_source(*, user, period: Period) -> dict[str, dict[str, Any]]:
    """Savings measured by Netra's services (SavingsRecord), per source."""
    rows = (
        SavingsRecord.objects.filter(user=user, created_at__gte=period.since, created_at__lt=period.until)
        .values("source", "technique")
        .annotate(
            events=Count("id"),
            tokens=Sum("tokens_saved"),
            usd=Sum("usd_saved"),
            original=Sum("original_tokens"),
            optimized=Sum("optimized_tokens"),
        )
        .order_by()
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        bucket = out.setdefault(row["source"], {"events": 0, "tokens": 0, "usd": ZERO, "techniques": {}})
        bucket["events"] += row["events"]
        bucket["tokens"] += row["tokens"] or 0
        bucket["usd"] += _dec(row["usd"])
        bucket["techniques"][row["technique"]] = {
            "events": row["events"],
            "tokens": row["tokens"] or 0,
            "usd": _dec(row["usd"]),
            "original": row["original"] or 0,
            "optimized": row["optimized"] or 0,
        }
    return out


def techniques_reported(*, user, period: Period) -> list[dict[str, Any]]:
    """Optimization techniques reported on usage records of the period (the technique rollup)."""
    return run_selectors.techniques_reported(user=user, start=period.start, end=period.end)


def top_runs(*, user, period: Period, limit: int = 10) -> list[dict[str, Any]]:
    """The period's most expensive runs of the user (the run rollup)."""
    return run_selectors.top_runs(user=user, since=period.since, until=period.until, limit=limit)


def budgets_for(*, user) -> list[dict[str, Any]]:
    """The user's budgets with live figures and their human labels."""
    return [{**b, "label": budget_label(b)} for b in budgets_for_user(user=user)]


def policy_for(*, user) -> OptimizationPolicy | None:
    return OptimizationPolicy.objects.filter(user=user).first()


def recommendations(
    *,
    breakdown: dict[str, Any],
    savings: dict[str, dict[str, Any]],
    policy: OptimizationPolicy | None,
    budgets: list[dict[str, Any]],
) -> list[dict[str, str]]:
    """Plain-language advice from the period's figures and the user's policy."""
    totals = breakdown["totals"]
    out: list[dict[str, str]] = []
    if policy is not None and policy.suggested_model and policy.current_model:
        out.append(
            {
                "kind": "model",
                "text": f"Route {policy.current_model} calls to {policy.suggested_model} (same provider): "
                f"estimated {dollars(policy.estimated_savings_usd)} less over 30 days "
                "with the other levers of your policy.",
            }
        )
    if policy is not None and policy.compression_level != "none":
        out.append(
            {
                "kind": "compression",
                "text": f"Compress prompts ({policy.compression_level}) with POST /api/v1/optimize/prompt.",
            }
        )
    if policy is not None and policy.caching_enabled:
        out.append({"kind": "cache", "text": "Identical prompts repeat: turn on the response cache."})
    requests = totals["requests"]
    if requests >= 20:
        hit_rate = Decimal(totals["cache_hits"]) / requests
        if hit_rate < Decimal("0.2"):
            out.append(
                {
                    "kind": "cache",
                    "text": f"Only {hit_rate * 100:.0f}% of requests hit a cache; put the stable part of "
                    "prompts first so provider prompt caching applies.",
                }
            )
    prompt = sum(totals[f] for f in PROMPT_FIELDS)
    completion = sum(totals[f] for f in COMPLETION_FIELDS)
    if completion and prompt >= 10 * completion and requests >= 20:
        out.append(
            {
                "kind": "context",
                "text": f"Prompts are {prompt / completion:.0f}x the completions: fit the history with "
                "POST /api/v1/optimize/context.",
            }
        )
    if totals["unpriced_requests"]:
        out.append(
            {
                "kind": "pricing",
                "text": f"{totals['unpriced_requests']} requests used models without a price; "
                "ask an admin to add them to the catalog.",
            }
        )
    for budget in budgets:
        percent = budget.get("percent_used")
        if percent is not None and Decimal(percent) >= 90:
            out.append(
                {
                    "kind": "budget",
                    "text": f"Budget {budget.get('id')} ({budget.get('scope')}, "
                    f"{budget.get('period')}) is at {Decimal(percent):.0f}%.",
                }
            )
    if breakdown["by_agent"] and totals["cost_usd"] > 0:
        top = breakdown["by_agent"][0]
        share = top["cost_usd"] / totals["cost_usd"]
        if share >= Decimal("0.6") and len(breakdown["by_agent"]) > 1:
            out.append(
                {
                    "kind": "agent",
                    "text": f"Agent {top['key']} spends {share * 100:.0f}% of the total; "
                    "give it its own budget.",
                }
            )
    return out


def dashboard_data(*, user, period: Period) -> dict[str, Any]:
    """Everything /dashboard/ shows for ``user`` in ``period``."""
    rows = DailyUsage.objects.filter(user=user, day__gte=period.start, day__lte=period.end)
    breakdown = rollup_breakdown(rows=rows, period=period)
    savings = savings_by_source(user=user, period=period)
    policy = policy_for(user=user)
    budgets = budgets_for(user=user)
    totals = breakdown["totals"]
    optimization_usd = totals["usd_saved"] + sum(
        (savings[s]["usd"] for s in ("optimize", "template") if s in savings), ZERO
    )
    optimization_tokens = totals["tokens_saved"] + sum(
        (savings[s]["tokens"] for s in ("optimize", "template") if s in savings), 0
    )
    cache = savings.get("cache", {"events": 0, "tokens": 0, "usd": ZERO})
    return {
        "period": period,
        "totals": totals,
        "average_cost_per_request": (totals["cost_usd"] / totals["requests"]) if totals["requests"] else None,
        "cache_hit_rate": _ratio(totals["cache_hits"], totals["requests"]),
        "savings": {
            "optimization_usd": optimization_usd,
            "optimization_tokens": optimization_tokens,
            "cache_usd": cache["usd"],
            "cache_tokens": cache["tokens"],
            "cache_events": cache["events"],
            "by_source": savings,
        },
        "breakdown": breakdown,
        "top_runs": top_runs(user=user, period=period),
        "budgets": budgets,
        "policy": policy,
        "recommendations": recommendations(
            breakdown=breakdown, savings=savings, policy=policy, budgets=budgets
        ),
    }


# --- Admin overview ---------------------------------------------------------------------------


def admin_overview(*, period: Period, top: int = 10) -> dict[str, Any]:
    """All users at a glance for staff: totals, top spenders, trend, unpriced models, open alerts."""
    # The (user, day) totals: at most users x days rows, whatever the ledger's size.
    base = UserDailyUsage.objects.filter(day__gte=period.start, day__lte=period.end)
    by_user = list(
        base.values("user_id")
        .annotate(cost_usd=Sum("cost_usd"), total_tokens=Sum("total_tokens"), requests=Sum("requests"))
        .order_by("-cost_usd", "-total_tokens")
    )
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=[r["user_id"] for r in by_user[:top]])}
    trend = {
        row["day"]: row
        for row in base.values("day")
        .annotate(cost_usd=Sum("cost_usd"), total_tokens=Sum("total_tokens"), requests=Sum("requests"))
        .order_by()
    }
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    totals = {
        "cost_usd": sum((_dec(r["cost_usd"]) for r in by_user), ZERO),
        "total_tokens": sum(r["total_tokens"] or 0 for r in by_user),
        "requests": sum(r["requests"] or 0 for r in by_user),
        "active_users": len(by_user),
        "users": get_user_model().objects.filter(is_active=True).count(),
    }
    alert_counts = Alert.objects.aggregate(open=Count("id", filter=Q(acknowledged_at__isnull=True)))
    return {
        "period": period,
        "totals": totals,
        "top_spenders": [
            {
                "user": users.get(r["user_id"]),
                "user_id": r["user_id"],
                "cost_usd": _dec(r["cost_usd"]),
                "total_tokens": r["total_tokens"],
                "requests": r["requests"],
                "share": (_dec(r["cost_usd"]) / totals["cost_usd"]) if totals["cost_usd"] else None,
            }
            for r in by_user[:top]
        ],
        "trend": [
            {
                "day": day,
                "cost_usd": _dec(trend.get(day, {}).get("cost_usd")),
                "total_tokens": trend.get(day, {}).get("total_tokens") or 0,
            }
            for day in days
        ],
        "unpriced": unpriced_models()[:20],
        "open_alert_count": alert_counts["open"],
        "open_alerts": list(Alert.objects.filter(acknowledged_at__isnull=True).select_related("user")[:15]),
    }
