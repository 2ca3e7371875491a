"""The ``token_usage`` live event: what one stored usage record looks like on the wire."""

from __future__ import annotations

from typing import Any

from core.money import money_str
from tokens.models import UsageRecord


def token_usage_data(record: UsageRecord, remaining: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``data`` of a token_usage event for one record; ``remaining``: its tightest budget after it."""
    remaining = remaining or {}
    counts = record.token_counts
    return {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "model": record.model,
        "tool": record.tool,
        "run_id": record.run_id,
        "tokens_used": record.total_tokens,
        "prompt_tokens": counts.prompt,
        "completion_tokens": counts.completion,
        "cost_usd": money_str(record.cost_usd),
        "priced": record.priced,
        "tokens_remaining": remaining.get("tokens_remaining"),
        "usd_remaining": money_str(remaining.get("usd_remaining")),
        "optimization_applied": bool(record.optimization_technique),
        "optimization_technique": record.optimization_technique or None,
        "cache_hit": record.cache_hit,
        "occurred_at": record.occurred_at.isoformat(),
    }
