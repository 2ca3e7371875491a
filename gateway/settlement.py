"""Settling calls after their response, in batches: one thread hop and one ingestion per caller per batch.

A finished call is queued; the first one queued starts a flush ``FLUSH_SECONDS`` later, which settles
everything queued by then (``gateway_settle_many``). The caller never waits for it, and under load one
ingestion transaction carries many calls. A process that dies before a flush loses no money: the holds
of the calls it had not settled expire with their TTL (their usage is then missing, as with any crash
mid-call).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

import httpx
from channels.db import database_sync_to_async

from gateway.calls import Call
from gateway.services import Outcome, gateway_settle_many

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.2
BATCH = 500


class _Queue:
    def __init__(self) -> None:
        self.items: list[tuple[Call, Outcome, httpx.Response | None]] = []
        self.task: asyncio.Task | None = None


_queues: dict[asyncio.AbstractEventLoop, _Queue] = {}


def settle_later(call: Call, outcome: Outcome, upstream: httpx.Response | None = None) -> None:
    """Queue the call's settlement (and the closing of an upstream stream the client left)."""
    loop = asyncio.get_running_loop()
    queue = _queues.setdefault(loop, _Queue())
    queue.items.append((call, outcome, upstream))
    if queue.task is None or queue.task.done():
        # A fresh context: the flush belongs to no request (nor to its thread-sensitive executor).
        queue.task = loop.create_task(_flush(queue), context=contextvars.Context())


async def _flush(queue: _Queue) -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    while queue.items:
        batch, queue.items = queue.items[:BATCH], queue.items[BATCH:]
        for _, _, upstream in batch:
            if upstream is not None:  # closing a stream the client left stops the upstream generating
                try:
                    await upstream.aclose()
                except Exception:
                    logger.exception("closing an upstream stream failed")
        try:
            await database_sync_to_async(gateway_settle_many, thread_sensitive=False)(
                items=[(call, outcome) for call, outcome, _ in batch])
        except Exception:
            logger.exception("settling %d gateway calls failed; their holds expire with their TTL", len(batch))


async def drain() -> None:
    """Wait until every queued settlement of this loop is done (tests, benchmarks)."""
    queue = _queues.get(asyncio.get_running_loop())
    while queue is not None and (queue.items or (queue.task is not None and not queue.task.done())):
        await asyncio.gather(queue.task, return_exceptions=True) if queue.task else await asyncio.sleep(0.01)
