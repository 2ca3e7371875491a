"""Alert rules, evaluated every 5 minutes (analytics.tasks.alerts_evaluate).

Each rule raises through ``alert_raise`` with a dedupe key naming the
condition and its window, so a condition that stays true alerts once per
window however often the rules run. Windows are UTC days (hours for the
hourly spike rule); figures travel with the alert.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum

from analytics.alerts import alert_raise
from analytics.models import Alert, DailyUsage
from analytics.selectors import budgets_for
from budgets.forecast import forecast_attach_one, forecast_json, forecast_sentence
from tokens.models import UsageRecord

SPIKE_FACTOR = Decimal(3)
LOW_CACHE_HIT_RATE = Decimal("0.20")
OPTIMIZATION_FAILURE_RATE = Decimal("0.05")
BUDGET_PERCENT = Decimal(90)


def _notify(
    user,
    *,
    kind: str,
    dedupe_key: str,
    message: str,
    severity: str = "warning",
    window_start: datetime | None = None,
    figures: dict[str, Any],
    budget_id: int | None = None,
    threshold: Decimal | None = None,
    percent_used: Decimal | None = None,
) -> Alert | None:
    # Live events go through the channel layer (msgpack on Redis): plain strings and ints only.
    live = {
        "kind": kind,
        "message": message,
        **{k: None if v is None else str(v) for k, v in figures.items()},
    }
    if budget_id is not None:
        live.update(budget=budget_id, threshold=str(threshold), percent_used=str(percent_used))
    return alert_raise(
        kind=kind,
        dedupe_key=dedupe_key,
        message=message,
        user=user,
        severity=severity,
        window_start=window_start,
        figures=figures,
        live_event=live,
        budget_id=budget_id,
        threshold=threshold,
        percent_used=percent_used,
    )


def _day_start(day) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def rule_budget_above_90(*, users, now: datetime) -> list[Alert]:
    raised = []
    for user in users:
        for budget in budgets_for(user=user):
            percent = budget.get("percent_used")
            if percent is None or Decimal(percent) < BUDGET_PERCENT:
                continue
            start = budget.get("window_start")
            window = f"{start:%Y%m%dT%H%M}" if start else "lifetime"
            dedupe_key = f"budget:{budget['id']}:{window}:90"
            if Alert.objects.filter(dedupe_key=dedupe_key).exists():
                continue
            forecast = forecast_attach_one(budget_id=budget["id"], item=budget, now=now)
            alert = _notify(
                user,
                kind=Alert.KIND_BUDGET_THRESHOLD,
                severity="critical" if Decimal(percent) >= 100 else "warning",
                dedupe_key=dedupe_key,
                message=f"Budget {budget['id']} ({budget.get('scope')}, {budget.get('period')}) is at "
                f"{Decimal(percent):.1f}% of its limit. {forecast_sentence(forecast)}",
                window_start=start,
                figures={
                    name: (str(budget.get(name)) if budget.get(name) is not None else None)
                    for name in ("spent_usd", "limit_usd", "spent_tokens", "limit_tokens")
                } | {"forecast": forecast_json(forecast)},
                budget_id=budget["id"],
                threshold=BUDGET_PERCENT,
                percent_used=Decimal(percent),
            )
            if alert:
                raised.append(alert)
    return raised


def _is_spike(tokens: int, baseline: Decimal) -> bool:
    """Above SPIKE_FACTOR times the baseline, and big enough to matter (NETRA_SPIKE_MIN_TOKENS)."""
    return baseline > 0 and tokens >= settings.NETRA_SPIKE_MIN_TOKENS and tokens > SPIKE_FACTOR * baseline


def _spike_figures(window: str, tokens: int, baseline: Decimal) -> dict[str, Any]:
    return {
        "window": window,
        "tokens": tokens,
        "baseline_tokens": str(baseline.quantize(Decimal("0.01"))),
        "factor": str((tokens / baseline).quantize(Decimal("0.01"))),
    }


def rule_daily_spike(*, now: datetime) -> list[Alert]:
    """Today's tokens so far above 3x the average of the previous 7 full days."""
    today = now.astimezone(UTC).date()
    rows = (
        DailyUsage.objects.filter(day__gte=today - timedelta(days=7), day__lte=today)
        .values("user_id", "day")
        .annotate(tokens=Sum("total_tokens"), cost=Sum("cost_usd"))
        .order_by()
    )
    per_user: dict[int, dict] = defaultdict(dict)
    for row in rows:
        per_user[row["user_id"]][row["day"]] = row
    users = get_user_model().objects.in_bulk([uid for uid, days in per_user.items() if today in days])
    raised = []
    for user_id, days in per_user.items():
        current = days.get(today)
        if current is None:
            continue
        baseline = Decimal(sum(days[d]["tokens"] for d in days if d != today)) / 7
        if not _is_spike(current["tokens"], baseline):
            continue
        alert = _notify(
            users[user_id],
            kind=Alert.KIND_USAGE_SPIKE,
            dedupe_key=f"spike:day:{user_id}:{today:%Y%m%d}",
            message=f"Usage spike: {current['tokens']:,} tokens today, "
            f"{current['tokens'] / baseline:.1f}x the "
            f"7-day daily average of {baseline:,.0f}.",
            window_start=_day_start(today),
            figures={**_spike_figures("day", current["tokens"], baseline), "cost_usd": str(current["cost"])},
        )
        if alert:
            raised.append(alert)
    return raised


def rule_hourly_spike(*, now: datetime) -> list[Alert]:
    """The last full hour's tokens above 3x the same hour's average over the previous 7 days."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    counts: list[dict[int, int]] = []
    for days_back in range(8):
        start = hour - timedelta(days=days_back)
        counts.append(
            dict(
                UsageRecord.objects.filter(occurred_at__gte=start, occurred_at__lt=start + timedelta(hours=1))
                .values("user_id")
                .annotate(tokens=Sum("total_tokens"))
                .order_by()
                .values_list("user_id", "tokens")
            )
        )
    users = get_user_model().objects.in_bulk(list(counts[0]))
    raised = []
    for user_id, tokens in counts[0].items():
        baseline = Decimal(sum(c.get(user_id, 0) for c in counts[1:])) / 7
        if not _is_spike(tokens, baseline):
            continue
        alert = _notify(
            users[user_id],
            kind=Alert.KIND_USAGE_SPIKE,
            dedupe_key=f"spike:hour:{user_id}:{hour:%Y%m%dT%H}",
            message=f"Usage spike: {tokens:,} tokens between {hour:%H:%M} "
            f"and {hour + timedelta(hours=1):%H:%M} "
            f"UTC, {tokens / baseline:.1f}x the same hour's 7-day average.",
            window_start=hour,
            figures=_spike_figures("hour", tokens, baseline),
        )
        if alert:
            raised.append(alert)
    return raised


def rule_rates(*, now: datetime) -> list[Alert]:
    """Today's cache hit rate below 20% and optimization failure rate above 5%."""
    today = now.astimezone(UTC).date()
    rows = list(
        DailyUsage.objects.filter(day=today)
        .values("user_id")
        .annotate(
            requests=Sum("requests"),
            hits=Sum("cache_hits"),
            optimized=Sum("optimized_requests"),
            failures=Sum("optimization_failures"),
        )
        .order_by()
    )
    min_requests = settings.NETRA_ALERT_MIN_REQUESTS
    min_optimized = settings.NETRA_ALERT_MIN_OPTIMIZED
    users = get_user_model().objects.in_bulk([r["user_id"] for r in rows])
    raised = []
    for row in rows:
        user = users[row["user_id"]]
        if row["requests"] >= min_requests:
            rate = Decimal(row["hits"]) / row["requests"]
            if rate < LOW_CACHE_HIT_RATE:
                raised.append(
                    _notify(
                        user,
                        kind=Alert.KIND_LOW_CACHE_HIT_RATE,
                        severity="info",
                        dedupe_key=f"cache:{user.pk}:{today:%Y%m%d}",
                        window_start=_day_start(today),
                        message=f"Cache hit rate {rate * 100:.1f}% today (below 20%) "
                        f"over {row['requests']:,} requests.",
                        figures={
                            "window": "day",
                            "requests": row["requests"],
                            "cache_hits": row["hits"],
                            "hit_rate": str(rate.quantize(Decimal("0.0001"))),
                        },
                    )
                )
        if row["optimized"] >= min_optimized:
            rate = Decimal(row["failures"]) / row["optimized"]
            if rate > OPTIMIZATION_FAILURE_RATE:
                raised.append(
                    _notify(
                        user,
                        kind=Alert.KIND_OPTIMIZATION_FAILURES,
                        dedupe_key=f"optfail:{user.pk}:{today:%Y%m%d}",
                        window_start=_day_start(today),
                        message=f"{rate * 100:.1f}% of today's optimized requests "
                        "saved no tokens (above 5%).",
                        figures={
                            "window": "day",
                            "optimized_requests": row["optimized"],
                            "failures": row["failures"],
                            "failure_rate": str(rate.quantize(Decimal("0.0001"))),
                        },
                    )
                )
    return [a for a in raised if a]


def alerts_evaluate(*, now: datetime) -> list[Alert]:
    """Run every rule once; returns the alerts raised by this run (not the deduplicated ones)."""
    today = now.astimezone(UTC).date()
    active = get_user_model().objects.filter(
        pk__in=DailyUsage.objects.filter(day=today).values("user_id").distinct()
    )
    raised = rule_budget_above_90(users=active, now=now)
    raised += rule_daily_spike(now=now)
    raised += rule_hourly_spike(now=now)
    raised += rule_rates(now=now)
    return raised
