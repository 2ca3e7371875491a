"""The savings ledger: what every optimization and cache hit saved, in catalog dollars."""

from __future__ import annotations

from decimal import Decimal

from core.events import publish
from core.money import PER_MILLION
from optimization.models import SavingsRecord, UserPreference
from tokens.pricing import catalog, rates_for


def optimization_enabled(*, user) -> bool:
    """Optimization is on unless the user switched it off."""
    value = UserPreference.objects.filter(user=user).values_list("optimization_enabled", flat=True).first()
    return True if value is None else bool(value)


def user_preference_set(*, user, optimization_enabled: bool) -> UserPreference:
    pref, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"optimization_enabled": optimization_enabled}
    )
    return pref


def usd_for_tokens(*, model: str, input_tokens: int, output_tokens: int = 0) -> Decimal:
    """Catalog price of ``input_tokens`` + ``output_tokens`` of ``model`` (0 when unpriced)."""
    price = catalog.latest(model) if model else None
    if price is None or (input_tokens <= 0 and output_tokens <= 0):
        return Decimal(0)
    rates = rates_for(price, max(input_tokens, 0))
    return (max(input_tokens, 0) * rates.input + max(output_tokens, 0) * rates.output) / PER_MILLION


def savings_record_create(
    *,
    user,
    technique: str,
    model: str,
    original_tokens: int,
    optimized_tokens: int,
    source: str = SavingsRecord.SOURCE_OPTIMIZE,
    output_tokens_saved: int = 0,
    agent: str = "",
) -> SavingsRecord:
    """Record a saving and announce it as a ``token_optimization`` live event.

    Saved input tokens are priced at the model's catalog input rate; a cache
    hit also saves the output, passed as ``output_tokens_saved`` (part of
    ``original_tokens``) and priced at the output rate.
    """
    tokens_saved = original_tokens - optimized_tokens
    input_saved = tokens_saved - output_tokens_saved
    usd = usd_for_tokens(model=model, input_tokens=input_saved, output_tokens=output_tokens_saved)
    record = SavingsRecord.objects.create(
        user=user,
        source=source,
        technique=technique[:100],
        model=model[:200],
        agent=agent[:100],
        original_tokens=original_tokens,
        optimized_tokens=optimized_tokens,
        tokens_saved=tokens_saved,
        usd_saved=usd,
    )
    percent = round(100.0 * tokens_saved / original_tokens, 1) if original_tokens else 0.0
    publish(
        user.pk,
        "token_optimization",
        {
            "source": source,
            "technique": technique,
            "model": model,
            "agent": agent,
            "original_tokens": original_tokens,
            "optimized_tokens": optimized_tokens,
            "tokens_saved": tokens_saved,
            "savings_percent": percent,
            "usd_saved": format(usd.normalize(), "f"),
        },
    )
    return record
