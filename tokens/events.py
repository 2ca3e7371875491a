"""What goes on the wire to live WebSocket clients.

Envelope: ``{"type": ..., "data": {...}, "ts": ...}``. Events are sent only
after the surrounding transaction commits, so nothing rolled back is ever
announced. Each event goes to the user's group and to the staff-wide group.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPES = ("token_usage", "token_optimization", "budget_alert")
ALL_GROUP = "usage.all"
SENT_COUNTER_KEY = "netra:ws_events_sent"


def user_group(user_id: int) -> str:
    return f"usage.user.{user_id}"


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "data": data, "ts": time.time()}


def _send(messages: list[tuple[int, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id, message in messages:
        for group in (user_group(user_id), ALL_GROUP):
            try:
                async_to_sync(layer.group_send)(group, {"type": "usage.event", "event": message})
            except Exception:  # live events are best effort; the ledger is the truth
                logger.exception("could not publish %s to %s", message["type"], group)
    try:
        cache.incr(SENT_COUNTER_KEY, len(messages))
    except ValueError:
        cache.set(SENT_COUNTER_KEY, len(messages), timeout=None)


def publish(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Queue one event for after commit (or now, outside a transaction)."""
    publish_many([(user_id, event_type, data)])


def publish_many(events: list[tuple[int, str, dict[str, Any]]]) -> None:
    if not events:
        return
    messages = [(user_id, envelope(event_type, data)) for user_id, event_type, data in events]
    transaction.on_commit(lambda: _send(messages))
