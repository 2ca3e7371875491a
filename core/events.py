"""What goes on the wire to live WebSocket clients, and how it gets there.

Envelope: ``{"type": ..., "data": {...}, "ts": ...}`` (``ts`` is the commit
time in epoch seconds). Events are handed over only after the surrounding
transaction commits, so nothing rolled back is ever announced. Each event goes
to its user's group and to the staff-wide group.

Delivery is off the request path: the on-commit hook only puts the events on
a queue; one daemon thread per process drains it and talks to the
channel layer. A burst (a 1000-record batch) leaves as a few layer messages
per group, each carrying up to ``EVENTS_PER_MESSAGE`` events, which also keeps
a slow socket from overflowing its channel's capacity (100 messages).

The in-memory layer (embedded default) keeps asyncio queues that belong to
the event loop its consumers run on, so for it the thread hands the sends to
that loop; Redis layers are used from the thread's own long-lived loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPES = ("token_usage", "token_optimization", "budget_alert")
ALL_GROUP = "usage.all"
SENT_COUNTER_KEY = "netra:ws_events_sent"
# Consumers handle layer messages of this type in ``usage_events``.
LAYER_MESSAGE_TYPE = "usage.events"
EVENTS_PER_MESSAGE = 250
SEND_TIMEOUT_SECONDS = 10.0

Event = tuple[int, str, dict[str, Any]]  # (user_id, type, data)


def user_group(user_id: int) -> str:
    return f"usage.user.{user_id}"


def jsonable(value: Any) -> Any:
    """Event data as JSON types: money stays exact as a decimal string."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, datetime, date, UUID)):
        return jsonable(value)
    raise TypeError(f"{type(value).__name__} is not allowed in a live event")


def envelope(event_type: str, data: dict[str, Any], ts: float | None = None) -> dict[str, Any]:
    return {"type": event_type, "data": data, "ts": time.time() if ts is None else ts}


def encode(message: dict[str, Any]) -> str:
    """The wire text of an envelope (Decimals as exact strings, datetimes as ISO 8601)."""
    return json.dumps(message, separators=(",", ":"), default=_json_default)


def publish(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Queue one event for after commit (or now, outside a transaction)."""
    publish_many([(user_id, event_type, data)])


def publish_many(events: list[Event]) -> None:
    """Queue ``(user_id, type, data)`` events for after commit; never blocks on the layer."""
    if not events:
        return
    for _, event_type, _ in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown live event type {event_type!r}")
    events = list(events)

    def on_commit() -> None:
        ts = time.time()
        _send([(user_id, envelope(event_type, data, ts)) for user_id, event_type, data in events])

    transaction.on_commit(on_commit)


def _send(messages: list[tuple[int, dict[str, Any]]]) -> None:
    """Hand committed ``(user_id, envelope)`` pairs to the sender thread; returns at once."""
    _sender.submit(messages)


def flush(timeout: float = 5.0) -> bool:
    """Wait until everything submitted so far was handed to the layer (tests, benchmarks)."""
    return _sender.wait_idle(timeout)


# --- Where the in-memory layer's consumers live ------------------------------------------------

_loops_lock = threading.Lock()
_consumer_loops: dict[asyncio.AbstractEventLoop, int] = {}


def consumer_attach() -> None:
    """Called by a consumer once it joined its groups, from its event loop."""
    loop = asyncio.get_running_loop()
    with _loops_lock:
        _consumer_loops[loop] = _consumer_loops.pop(loop, 0) + 1  # re-insert: newest last


def consumer_detach() -> None:
    loop = asyncio.get_running_loop()
    with _loops_lock:
        left = _consumer_loops.pop(loop, 0) - 1
        if left > 0:
            _consumer_loops[loop] = left


def _consumer_loop() -> asyncio.AbstractEventLoop | None:
    with _loops_lock:
        for loop in reversed(list(_consumer_loops)):
            if not loop.is_closed():
                return loop
    return None


# --- Delivery ----------------------------------------------------------------------------


def layer_messages(encoded: Iterable[tuple[int, str]]) -> list[tuple[str, dict[str, Any]]]:
    """(group, layer message) pairs for encoded events, in order, chunked."""
    by_group: dict[str, list[str]] = {}
    for user_id, text in encoded:
        by_group.setdefault(user_group(user_id), []).append(text)
        by_group.setdefault(ALL_GROUP, []).append(text)
    out = []
    for group, texts in by_group.items():
        for i in range(0, len(texts), EVENTS_PER_MESSAGE):
            out.append((group, {"type": LAYER_MESSAGE_TYPE, "events": texts[i:i + EVENTS_PER_MESSAGE]}))
    return out


async def _group_send_all(layer, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        # A second try gets a fresh connection: the first may have died with a Redis restart.
        for attempt in (1, 2):
            try:
                await layer.group_send(group, message)
                break
            except Exception:  # live events are best effort; the ledger is the truth
                if attempt == 2:
                    logger.exception("could not publish %d live events to %s", len(message["events"]), group)


def _deliver(encoded: list[tuple[int, str]], loop: asyncio.AbstractEventLoop) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    messages = layer_messages(encoded)
    if isinstance(layer, InMemoryChannelLayer):
        target = _consumer_loop()
        if target is None:
            return  # nobody in this process listens, and an in-memory layer reaches no one else
        try:
            asyncio.run_coroutine_threadsafe(_group_send_all(layer, messages), target).result(
                SEND_TIMEOUT_SECONDS
            )
        except Exception:
            logger.exception("could not hand %d live events to the consumers' loop", len(encoded))
            return
    else:
        loop.run_until_complete(_group_send_all(layer, messages))
    try:
        cache.incr(SENT_COUNTER_KEY, len(encoded))
    except ValueError:
        cache.set(SENT_COUNTER_KEY, len(encoded), timeout=None)


def _encode_all(batches: list[list[tuple[int, dict[str, Any]]]]) -> list[tuple[int, str]]:
    # Encoded once, here, so neither the request nor each listening socket pays for it.
    encoded = []
    for batch in batches:
        for user_id, message in batch:
            try:
                encoded.append((user_id, encode(message)))
            except (TypeError, ValueError):  # one bad event must not sink the others
                logger.exception("live event %s is not JSON-serialisable; dropped", message.get("type"))
    return encoded


class _Sender:
    """One daemon thread per process that hands committed events to the channel layer."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[list[tuple[int, dict[str, Any]]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._submitted = 0
        self._done = 0

    def submit(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        with self._lock:
            self._submitted += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="netra-live-events", daemon=True)
                self._thread.start()
        self._queue.put(messages)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._done >= self._submitted, timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            batches = [self._queue.get()]
            # Whatever queued up meanwhile goes out in the same layer messages.
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            taken = len(batches)
            try:
                _deliver(_encode_all(batches), loop)
            except Exception:
                logger.exception("live event delivery failed")
            finally:
                with self._idle:
                    self._done += taken
                    self._idle.notify_all()


_sender = _Sender()
