"""Usage delivery that never loses a record: post now, or buffer and retry in the background.

``UsageDelivery`` is the transport-facing half of ``NetraClient`` (a mixin: the client
supplies ``transport`` and calls ``_init_delivery``); the endpoint methods live in
``client.py``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref

from netra_client.buffer import UsageBuffer
from netra_client.errors import (
    AuthError,
    ConnectionFailed,
    NetraError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from netra_client.results import BatchResult, UsageResult
from netra_client.transport import Transport

logger = logging.getLogger("netra_client")

MAX_BATCH = 1000  # the server's NETRA_MAX_BATCH
_TRANSIENT = (ConnectionFailed, ServerError, RateLimitedError)
_clients: weakref.WeakSet[UsageDelivery] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for client in list(_clients):
        try:
            if client.pending:
                client.flush(retries=0)
        except Exception:  # never raise during interpreter shutdown
            logger.exception("Netra: final flush failed")


class UsageDelivery:
    """Posts usage, buffers what the server cannot take yet and delivers it later."""

    transport: Transport

    def _init_delivery(self, *, max_buffer: int, flush_interval: float, batch_size: int) -> None:
        self.buffer = UsageBuffer(max_buffer)
        self.flush_interval = flush_interval
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH))
        self._flush_lock = threading.Lock()
        self._flusher_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._last_attempt = 0.0
        self._stop = threading.Event()
        self._warned_down = False
        _clients.add(self)

    def usage_create(self, record: dict) -> UsageResult:
        """POST one record (retried with the same request_id); raises when it cannot be stored."""
        return UsageResult.from_json(self.transport.request("POST", "usage", body=record)[1])

    def usage_create_batch(self, records: list[dict], *, retries: int | None = None) -> BatchResult:
        """POST up to 1000 records at once; each item says created, duplicate or invalid."""
        if not records:
            return BatchResult(items=[], counts={"created": 0, "duplicate": 0, "invalid": 0}, raw={})
        if len(records) > MAX_BATCH:
            raise ValueError(f"At most {MAX_BATCH} records per batch.")
        _, data = self.transport.request("POST", "usage", body={"records": records}, retries=retries)
        return BatchResult.from_json(data)

    def usage_send(self, record: dict) -> UsageResult | None:
        """Deliver a record without ever raising: posted now (the stored record is returned)
        or buffered for a later flush (None). Records the server rejects as invalid, or that
        the key may not post, are logged in full and dropped: sending them again cannot help.
        """
        try:
            if len(self.buffer) or not self.worth_trying():
                # The server was down a moment ago: keep order, do not stall the agent on
                # retries, and let the flusher (or the next flush) deliver.
                self._buffer_add(record)
                self._flush_if_due()
                return None
            try:
                return self.usage_create(record)
            except _TRANSIENT as exc:
                self._buffer_add(record, reason=exc)
                return None
            except AuthError as exc:
                if exc.status == 401:
                    # A missing or revoked key is fixable (set client.api_key, then flush()).
                    logger.error("Netra refused the API key (%s); usage kept in the buffer", exc)
                    self._buffer_add(record, reason=exc)
                    return None
                logger.error("Netra refused a usage record (%s); dropped: %r", exc, record)
                return None
            except ValidationError as exc:
                logger.error("Netra rejected a usage record (%s); dropped: %r", exc, record)
                return None
        except Exception:
            logger.exception("Netra: unexpected error sending usage; buffering %r", record.get("request_id"))
            try:
                self._buffer_add(record)
            except Exception:
                logger.exception("Netra: could not buffer usage %r", record)
            return None

    @property
    def pending(self) -> int:
        """Records waiting in the buffer."""
        return len(self.buffer)

    @property
    def degraded(self) -> bool:
        """True while usage waits in the buffer: the server was unreachable at the last attempt."""
        return len(self.buffer) > 0

    @property
    def reachable(self) -> bool:
        """False from a request the server could not answer (refused, reset, timed out, 5xx,
        429) until the next one it answers."""
        return self.transport.down_since is None

    @property
    def unreachable_for(self) -> float | None:
        """Seconds since the server stopped answering; None while it answers."""
        since = self.transport.down_since
        return None if since is None else time.monotonic() - since

    def worth_trying(self) -> bool:
        """Whether a request now can find the server back without stalling the caller: always
        while it answers or refuses connections at once (that costs milliseconds); after a
        timeout, a 5xx or a 429 only when no background flusher is already retrying, and once per
        ``flush_interval`` (at least a second). So a hung server costs one timeout per
        interval, not one per call."""
        transport = self.transport
        if transport.down_since is None or transport.failed_fast:
            return True
        if self._flusher is not None:
            return False
        return time.monotonic() - transport.failed_at >= max(self.flush_interval, 1.0)

    def flush(self, *, retries: int | None = None) -> int:
        """Send buffered records in batches (same request_ids). Returns how many remain."""
        with self._flush_lock:
            size = self.batch_size
            while len(self.buffer):
                batch = self.buffer.peek(size)
                try:
                    result = self.usage_create_batch(batch, retries=retries)
                except _TRANSIENT as exc:
                    logger.info("Netra still unreachable, %d records buffered: %s", len(self.buffer), exc)
                    break
                except ValidationError as exc:
                    # The batch as a whole was refused (too large a body, say): halve it until
                    # the one record at fault is found, then drop only that one.
                    if len(batch) > 1:
                        size = max(1, len(batch) // 2)
                        continue
                    logger.error("Netra refused buffered usage (%s); dropped: %r", exc, batch[0])
                    self.buffer.remove(batch)
                    continue
                except NetraError as exc:
                    # A refused key: keep every record until it is fixed.
                    logger.error("Netra refused a usage batch (%s); %d records kept", exc, len(self.buffer))
                    break
                for item in result.items:
                    if item.status == "invalid":
                        logger.error("Netra rejected buffered usage %r: %s", batch[item.index], item.errors)
                self.buffer.remove(batch)
                if not len(self.buffer):
                    logger.warning("Netra reachable again: buffered usage delivered.")
                    self._warned_down = False
            return len(self.buffer)

    def _buffer_add(self, record: dict, *, reason: Exception | None = None) -> None:
        self.buffer.add(record)
        if reason is not None:
            self._last_attempt = time.monotonic()
        if not self._warned_down:
            self._warned_down = True
            logger.warning(
                "Netra server unreachable (%s): buffering usage in memory (at most %d records), "
                "%s.", reason or "earlier failure", self.buffer.max_records,
                f"retrying every {self.flush_interval:g} s" if self.flush_interval > 0 else "sent on flush()",
            )
        self._start_flusher()

    def _flush_if_due(self) -> None:
        if self.flush_interval > 0:
            self._start_flusher()
            return
        # No background thread: one quick attempt per second at most, on the agent's own
        # thread, so a recovered server gets the backlog without an explicit flush().
        now = time.monotonic()
        if now - self._last_attempt >= 1.0 and not self._flush_lock.locked():
            self._last_attempt = now
            self.flush(retries=0)

    def _start_flusher(self) -> None:
        if self.flush_interval <= 0:
            return
        with self._flusher_lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_loop, name="netra-flusher", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            with self._flusher_lock:
                # Decided under the lock, so a record buffered meanwhile starts a new flusher.
                if not len(self.buffer):
                    self._flusher = None
                    return
            if self._flush_lock.locked():
                continue
            try:
                self.flush(retries=0)
            except Exception:
                logger.exception("Netra: background flush failed")
        with self._flusher_lock:
            self._flusher = None

    def close(self, *, flush: bool = True) -> int:
        """Stop the background flusher; by default try once more to deliver. Returns records left."""
        self._stop.set()
        left = self.flush() if flush and len(self.buffer) else len(self.buffer)
        if left:
            logger.warning("Netra client closed with %d undelivered usage records.", left)
        return left
