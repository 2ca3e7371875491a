"""Live ``token_usage`` events: every newly stored usage record is announced after commit.

The receiver runs inside the ingestion transaction and only registers an
on-commit hook, so a rolled-back batch announces nothing and the budget
figures are read after every receiver (budget commits included) has written.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.db import transaction
from django.dispatch import receiver

from tokens import events
from tokens.models import UsageRecord
from tokens.services import money_str
from tokens.signals import usage_recorded

logger = logging.getLogger(__name__)


def _remaining_for(records: list[UsageRecord]) -> dict[UUID, dict[str, Any]]:
    try:
        from budgets.selectors import remaining_for_records
    except ImportError:  # budgets not built yet: every record has "no applicable budget"
        return {}
    try:
        return remaining_for_records(records=records)
    except Exception:  # the event still goes out, without budget figures
        logger.exception("remaining_for_records failed; announcing usage without budget figures")
        return {}


def token_usage_data(record: UsageRecord, remaining: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``data`` of a token_usage event for one record."""
    remaining = remaining or {}
    return {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "model": record.model,
        "tool": record.tool,
        "run_id": record.run_id,
        "tokens_used": record.total_tokens,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cost_usd": money_str(record.cost_usd),
        "priced": record.priced,
        "tokens_remaining": remaining.get("tokens_remaining"),
        "usd_remaining": money_str(remaining.get("usd_remaining")),
        "optimization_applied": bool(record.optimization_technique),
        "optimization_technique": record.optimization_technique or None,
        "cache_hit": record.cache_hit,
        "occurred_at": record.occurred_at.isoformat(),
    }


def usage_records_announce(*, records: list[UsageRecord]) -> None:
    """Publish one token_usage event per record (call after commit)."""
    remaining = _remaining_for(records)
    events.publish_many(
        [(r.user_id, "token_usage", token_usage_data(r, remaining.get(r.pk))) for r in records]
    )


@receiver(usage_recorded, dispatch_uid="tokens.live.on_usage_recorded")
def on_usage_recorded(sender, *, records: list[UsageRecord], **kwargs) -> None:
    records = list(records)
    transaction.on_commit(lambda: usage_records_announce(records=records))
