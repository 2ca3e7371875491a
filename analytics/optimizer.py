"""The AutoTokenOptimizer: from a user's last 30 days to a policy recommendation.

Triggers (thresholds in settings, defaults below):

- ``high_token_usage``: more than NETRA_POLICY_HIGH_TOKENS_PER_DAY tokens a day on average;
- ``high_cost``: more than NETRA_POLICY_HIGH_COST_PER_DAY dollars a day on average;
- ``low_efficiency``: prompts at least NETRA_POLICY_PROMPT_RATIO times the completions
  (context that is re-sent rather than used), or optimizations that mostly save nothing;
- ``repetitive_queries``: identical prompts, seen as response-cache hits (the cache
  keys on a hash of the prompt) making up at least NETRA_POLICY_REPEAT_SHARE of requests.

Each trigger maps to a lever: usage and cost to a cheaper model of the same
provider and compression, low efficiency to compression, repetition to caching.
Estimated savings replay the user's 30 days at current catalog prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from analytics.models import DailyUsage
from core.money import PER_MILLION
from optimization.models import SavingsRecord
from tokens.counts import TokenCounts
from tokens.models import ModelPrice
from tokens.pricing import catalog, cost_of
from tokens.selectors import prices_current

WINDOW_DAYS = 30
# Share of prompt tokens each compression level removes (measured ranges of the optimize service).
COMPRESSION_RATIOS = {
    "none": Decimal(0),
    "light": Decimal("0.10"),
    "balanced": Decimal("0.20"),
    "aggressive": Decimal("0.35"),
}
# A suggested model must cost at most this share of the current one for the user's token mix.
CHEAPER_SHARE = Decimal("0.7")


@dataclass
class Advice:
    compression_level: str = "none"
    current_model: str = ""
    suggested_model: str = ""
    caching_enabled: bool = False
    triggers: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    estimated_savings_usd: Decimal = Decimal(0)


def _cost_at(price: ModelPrice, counts: TokenCounts) -> Decimal | None:
    """List cost of ``counts`` at ``price`` (None when it prices a class of them nowhere)."""
    return cost_of(price, counts)


def cheaper_model(*, model: str, counts: TokenCounts) -> tuple[ModelPrice | None, Decimal, Decimal]:
    """The dearest catalog model of the same provider and mode that costs at most 70% of
    ``model`` for ``counts`` (closest in capability among the clearly cheaper ones).
    Returns (price, current cost, suggested cost)."""
    current = catalog.latest(model)
    if current is None or counts.total == 0:
        return None, Decimal(0), Decimal(0)
    current_cost = _cost_at(current, counts)
    if current_cost is None:
        return None, Decimal(0), Decimal(0)
    best, best_cost = None, Decimal(0)
    for candidate in prices_current():
        if (
            candidate.provider != current.provider
            or candidate.mode != current.mode
            or candidate.name == current.name
        ):
            continue
        if (
            current.context_window
            and candidate.context_window
            and candidate.context_window < min(current.context_window, 128_000)
        ):
            continue
        cost = _cost_at(candidate, counts)
        if cost is not None and cost <= current_cost * CHEAPER_SHARE and (best is None or cost > best_cost):
            best, best_cost = candidate, cost
    return best, current_cost, best_cost


def policy_recommend(*, user, now: datetime) -> Advice:
    """What the AutoTokenOptimizer recommends for ``user`` from the last 30 days."""
    since = now.date() - timedelta(days=WINDOW_DAYS - 1)
    rows = list(
        DailyUsage.objects.filter(user=user, day__gte=since, day__lte=now.date())
        .values("model")
        .annotate(**{name: Sum(name) for name in DailyUsage.COUNTERS})
        .order_by()
    )
    advice = Advice()
    if not rows:
        return advice
    requests = sum(r["requests"] for r in rows)
    total = sum(r["total_tokens"] for r in rows)
    cost = sum((Decimal(r["cost_usd"] or 0) for r in rows), Decimal(0))
    counts = [TokenCounts.from_row(r) for r in rows]
    prompt = sum(c.prompt for c in counts)
    completion = sum(c.completion for c in counts)
    optimized = sum(r["optimized_requests"] for r in rows)
    failures = sum(r["optimization_failures"] for r in rows)
    cache_repeats = SavingsRecord.objects.filter(
        user=user, source=SavingsRecord.SOURCE_CACHE, created_at__gte=now - timedelta(days=WINDOW_DAYS)
    ).count()
    tokens_per_day = Decimal(total) / WINDOW_DAYS
    cost_per_day = cost / WINDOW_DAYS
    prompt_ratio = Decimal(prompt) / completion if completion else None
    repeat_share = Decimal(cache_repeats) / (requests + cache_repeats)

    high_tokens = settings.NETRA_POLICY_HIGH_TOKENS_PER_DAY
    high_cost = settings.NETRA_POLICY_HIGH_COST_PER_DAY
    ratio_limit = settings.NETRA_POLICY_PROMPT_RATIO
    repeat_limit = settings.NETRA_POLICY_REPEAT_SHARE

    triggers = []
    if tokens_per_day > high_tokens:
        triggers.append("high_token_usage")
    if cost_per_day > high_cost:
        triggers.append("high_cost")
    if (prompt_ratio is not None and prompt_ratio >= ratio_limit and requests >= 20) or (
        optimized >= 20 and failures * 2 > optimized
    ):
        triggers.append("low_efficiency")
    if cache_repeats >= 5 and repeat_share >= repeat_limit:
        triggers.append("repetitive_queries")

    top = max(rows, key=lambda r: (Decimal(r["cost_usd"] or 0), r["total_tokens"]))
    advice.current_model = top["model"]
    advice.triggers = triggers
    if "low_efficiency" in triggers:
        advice.compression_level = "aggressive" if "high_cost" in triggers else "balanced"
    elif "high_token_usage" in triggers or "high_cost" in triggers:
        advice.compression_level = "light"
    advice.caching_enabled = "repetitive_queries" in triggers

    savings_model = Decimal(0)
    top_counts = TokenCounts.from_row(top)
    if "high_cost" in triggers or "high_token_usage" in triggers:
        suggested, current_cost, suggested_cost = cheaper_model(model=top["model"], counts=top_counts)
        if suggested is not None:
            advice.suggested_model = suggested.name
            savings_model = current_cost - suggested_cost
    # Compression removes a share of the input tokens, priced at each model's input rate.
    ratio = COMPRESSION_RATIOS[advice.compression_level]
    savings_compression = Decimal(0)
    if ratio:
        for r in rows:
            price = catalog.latest(
                advice.suggested_model if r is top and advice.suggested_model else r["model"]
            )
            if price is not None and price.input_per_million is not None:
                savings_compression += r["input_tokens"] * ratio * price.input_per_million / PER_MILLION
    # Each repeated prompt served from cache avoids an average request's cost.
    savings_cache = (cost / requests * cache_repeats) if advice.caching_enabled and requests else Decimal(0)
    estimated = (savings_model + savings_compression + savings_cache).quantize(Decimal("1e-12"))
    advice.estimated_savings_usd = estimated
    advice.figures = {
        "window_days": WINDOW_DAYS,
        "requests": requests,
        "total_tokens": total,
        "cost_usd": str(cost.normalize()),
        "tokens_per_day": str(tokens_per_day.quantize(Decimal("0.01"))),
        "cost_per_day_usd": str(cost_per_day.quantize(Decimal("0.000001"))),
        "prompt_to_completion_ratio": str(prompt_ratio.quantize(Decimal("0.01")))
        if prompt_ratio is not None
        else None,
        "optimized_requests": optimized,
        "optimization_failures": failures,
        "cache_repeats": cache_repeats,
        "savings_usd": {
            "model_switch": str(savings_model.quantize(Decimal("1e-6"))),
            "compression": str(savings_compression.quantize(Decimal("1e-6"))),
            "caching": str(Decimal(savings_cache).quantize(Decimal("1e-6"))),
        },
    }
    return advice
