"""The JSON shapes of the metering core's objects, shared by the APIs that return them."""

from __future__ import annotations

from typing import Any

from core.money import money_str
from tokens.models import ModelPrice, UsageRecord


def usage_record_out(record: UsageRecord, *, duplicate: bool | None = None) -> dict[str, Any]:
    data = {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "tool": record.tool,
        "model": record.model,
        "provider": record.provider,
        "run_id": record.run_id,
        "tokens": record.token_counts.as_dict(),
        "units": record.units,
        "service_tier": record.service_tier or "standard",
        "cost_usd": money_str(record.cost_usd),
        "list_cost_usd": money_str(record.list_cost_usd),
        "provider_cost_usd": money_str(record.provider_cost_usd),
        # What the provider reported less what the catalog lists (null without a reported cost).
        "provider_cost_difference_usd": money_str(record.provider_cost_usd - record.list_cost_usd)
        if record.provider_cost_usd is not None and record.priced else None,
        "priced": record.priced,
        "cache_hit": record.cache_hit,
        "optimization": (
            {"technique": record.optimization_technique, "original_tokens": record.original_tokens}
            if record.optimization_technique
            else None
        ),
        "reservation_id": str(record.reservation_id) if record.reservation_id else None,
        "latency_ms": record.latency_ms,
        "metadata": record.metadata,
        "occurred_at": record.occurred_at.isoformat(),
        "received_at": record.received_at.isoformat(),
    }
    if duplicate is not None:
        data["duplicate"] = duplicate
    return data


def price_out(price: ModelPrice) -> dict[str, Any]:
    return {
        "name": price.name,
        "provider": price.provider,
        "mode": price.mode,
        "aliases": price.aliases,
        **{name: money_str(getattr(price, name)) for name in ModelPrice.PRICE_FIELDS},
        "tiers": price.tiers,
        "rates": price.rates,
        "context_window": price.context_window,
        "max_output_tokens": price.max_output_tokens,
        "valid_from": price.valid_from.isoformat(),
    }
