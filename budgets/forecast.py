"""Budget forecasts: where a budget's window ends up at the recent burn rate, and when it runs out.

The method (docs/budgets.md, "Forecast"): the burn rate is what the budget's
scope spent in the ledger over the last ``LOOKBACK`` (24 hours), clipped to the
start of the current window and never shorter than ``MIN_BASIS`` (one hour, so
a window a few seconds old is not extrapolated from one call). Projected =
committed spend + rate x time left in the window. Runs out = now + (limit -
committed - reserved) / rate, for the tighter of the token and USD limits:
shown only when that comes before the window ends (any time for a lifetime
budget), ``now`` when the budget is already used up, else null.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from budgets.models import Budget
from budgets.selectors import budget_figures, budgets_visible
from core.money import COST_QUANTUM, ZERO, dollars, money_str
from tokens.models import UsageRecord

LOOKBACK = timedelta(hours=24)
MIN_BASIS = timedelta(hours=1)
HOUR = Decimal(3600)
# A lifetime budget has no window end: a run-out further away than ten years is "not in sight" (null).
LIFETIME_HORIZON_HOURS = Decimal(24 * 3653)


def _scope_filter(budget: Budget) -> Q:
    if budget.scope == Budget.SCOPE_GLOBAL:
        return Q()
    if budget.scope == Budget.SCOPE_ORGANIZATION:
        return Q(organization_id=budget.organization_id)
    if budget.scope == Budget.SCOPE_PROJECT:
        return Q(project_id=budget.project_id)
    if budget.scope == Budget.SCOPE_KEY:
        return Q(api_key_id=budget.api_key_id)
    if budget.scope == Budget.SCOPE_TAG:
        return Q(organization_id=budget.organization_id, tag_rows__tag=budget.tag)
    q = Q(user_id=budget.user_id)
    if budget.scope == Budget.SCOPE_USER_AGENT:
        q &= Q(agent=budget.agent)
    elif budget.scope == Budget.SCOPE_RUN:
        q &= Q(run_id=budget.run_id)
    return q


def _runs_out(*, now: datetime, left: Decimal | int | None, per_hour: Decimal, horizon: Decimal) -> datetime | None:
    """When ``left`` is burnt at ``per_hour``, if within ``horizon`` hours; ``now`` if nothing is left."""
    if left is None:
        return None
    if left <= 0:
        return now
    if per_hour <= 0:
        return None
    hours = Decimal(left) / per_hour
    if hours >= horizon:
        return None
    return now + timedelta(seconds=float(hours * HOUR))


def budget_forecast(*, budget: Budget, item: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The forecast of one budget from its live figures ``item`` (an item of ``budget_figures``)."""
    now = now or timezone.now()
    window_start, window_end = item["window_start"], item["window_end"]
    basis_start = min(max(window_start, now - LOOKBACK), now)
    hours = Decimal(max(now - basis_start, MIN_BASIS).total_seconds()) / HOUR
    burned = UsageRecord.objects.filter(
        _scope_filter(budget), occurred_at__gte=basis_start, occurred_at__lt=now
    ).aggregate(tokens=Sum("total_tokens"), usd=Sum("cost_usd"))
    burned_tokens, burned_usd = int(burned["tokens"] or 0), Decimal(burned["usd"] or ZERO)
    usd_per_hour = (burned_usd / hours).quantize(COST_QUANTUM)
    tokens_per_hour = Decimal(burned_tokens) / hours
    hours_left = Decimal((window_end - now).total_seconds()) / HOUR if window_end is not None else None
    horizon = hours_left if hours_left is not None else LIFETIME_HORIZON_HOURS
    out_at = [
        t for t in (
            _runs_out(now=now, left=item["remaining_usd"], per_hour=usd_per_hour, horizon=horizon),
            _runs_out(now=now, left=item["remaining_tokens"], per_hour=tokens_per_hour, horizon=horizon),
        ) if t is not None
    ]
    runs_out_at = min(out_at) if out_at else None
    return {
        "projected_usd": (item["spent_usd"] + usd_per_hour * hours_left).quantize(COST_QUANTUM)
        if hours_left is not None else None,
        "projected_tokens": item["spent_tokens"] + int(tokens_per_hour * hours_left)
        if hours_left is not None else None,
        "runs_out_at": runs_out_at,
        "window_end": window_end,
        "basis": {
            "start": basis_start,
            "end": now,
            "hours": hours.quantize(Decimal("0.01")),
            "spent_usd": burned_usd,
            "spent_tokens": burned_tokens,
            "usd_per_hour": usd_per_hour,
            "tokens_per_hour": int(tokens_per_hour),
        },
    }


def forecasts_attach(
    *, budgets: list[Budget], items: list[dict[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """``items`` (in the order of ``budgets``) each with a ``forecast``: one ledger aggregate per budget."""
    now = now or timezone.now()
    by_pk = {b.pk: b for b in budgets}
    return [{**item, "forecast": budget_forecast(budget=by_pk[item["id"]], item=item, now=now)} for item in items]


def forecast_attach_one(*, budget_id: int, item: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The forecast of the budget ``budget_id`` from its live figures ``item`` (one query for the budget)."""
    return budget_forecast(budget=Budget.objects.get(pk=budget_id), item=item, now=now)


def forecasts_for_items(*, items: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """Live-figure items (e.g. from ``budgets_for_user``) each with a ``forecast``: one query for the budgets."""
    budgets = list(Budget.objects.filter(pk__in=[item["id"] for item in items]))
    return forecasts_attach(budgets=budgets, items=items, now=now)


def budgets_for_user_forecast(*, user) -> list[dict[str, Any]]:
    """``budgets_for_user`` with a ``forecast`` on each budget."""
    budgets = budgets_visible(user=user)
    return forecasts_attach(budgets=budgets, items=budget_figures(budgets=budgets))


def budget_figures_forecast(*, budget: Budget) -> dict[str, Any]:
    """One budget's live figures with its forecast."""
    (item,) = forecasts_attach(budgets=[budget], items=budget_figures(budgets=[budget]))
    return item


def forecast_json(forecast: dict[str, Any]) -> dict[str, Any]:
    """A forecast with plain strings (alert figures, webhooks, live events): exact decimals, ISO instants."""

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return money_str(value)
        return value

    return plain(forecast)


def forecast_sentence(forecast: dict[str, Any]) -> str:
    """The forecast in words, for alert messages and pages."""
    basis = forecast["basis"]
    rate = f"at {dollars(basis['usd_per_hour'])}/h and {basis['tokens_per_hour']:,} tokens/h (last {basis['hours']} h)"
    if forecast["runs_out_at"] is not None and forecast["runs_out_at"] <= basis["end"]:
        ends = "already used up"
    elif forecast["runs_out_at"] is not None:
        ends = f"runs out {forecast['runs_out_at']:%Y-%m-%d %H:%M} UTC"
    else:
        ends = "lasts the window" if forecast["window_end"] is not None else "no end in sight"
    if forecast["projected_usd"] is None:
        return f"Forecast {rate}: {ends}."
    return (
        f"Forecast {rate}: {dollars(forecast['projected_usd'])} and {forecast['projected_tokens']:,} tokens "
        f"by the window's end; {ends}."
    )
