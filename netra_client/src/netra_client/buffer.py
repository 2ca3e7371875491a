"""The in-memory usage buffer: records the server could not take yet.

Records keep their ``request_id``, so a record that did reach the server before its
answer was lost is stored once when it is sent again (the server is idempotent on
request_id). The buffer is bounded: past ``max_records`` the oldest record is dropped
with a warning, because an agent that runs for days against a dead server must not
run out of memory.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

logger = logging.getLogger("netra_client")


class UsageBuffer:
    def __init__(self, max_records: int = 10_000) -> None:
        self.max_records = max(1, int(max_records))
        self._items: deque[dict] = deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, record: dict) -> None:
        with self._lock:
            if len(self._items) >= self.max_records:
                lost = self._items.popleft()
                self.dropped += 1
                logger.warning(
                    "Netra usage buffer full (%d records): dropped the oldest, request_id=%s. "
                    "Raise max_buffer or restore the server.", self.max_records, lost.get("request_id"),
                )
            self._items.append(record)

    def peek(self, n: int) -> list[dict]:
        with self._lock:
            return [self._items[i] for i in range(min(n, len(self._items)))]

    def remove(self, records: list[dict]) -> None:
        """Forget records the server has answered for (by identity, so concurrent adds are safe)."""
        done = {id(r) for r in records}
        with self._lock:
            self._items = deque(r for r in self._items if id(r) not in done)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._items)
