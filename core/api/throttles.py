"""Abuse limits for the API, kept in the shared cache (Redis in production) so they hold across processes.

A fixed window counted with one atomic ``incr`` per request: O(1) where DRF's
sliding-window throttles keep (and re-pickle) a list of every request's time.
Over the limit, DRF answers 429 with ``Retry-After``. If the cache is down
the limits open rather than fail the request.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/minute"`` -> (600, 60); empty or None: no limit."""
    return SimpleRateThrottle.parse_rate(None, rate) if rate else None


class FixedWindowCounter:
    """How many times ``ident`` acted in the current window of ``period`` seconds."""

    def __init__(self, scope: str, limit: int, period: int) -> None:
        self.scope, self.limit, self.period = scope, limit, period

    def _key(self, ident: str, now: float) -> str:
        return f"netra:limit:{self.scope}:{ident}:{int(now // self.period)}"

    def hit(self, ident: str) -> int | None:
        """Count one more; the new count, or None when the cache cannot count (the limit then opens)."""
        key = self._key(ident, time.time())
        cache.add(key, 0, timeout=self.period + 1)
        try:
            return cache.incr(key)
        except ValueError:  # the cache lost the key (or is down)
            return None

    def count(self, ident: str) -> int:
        return cache.get(self._key(ident, time.time())) or 0

    def wait(self) -> float:
        return self.period - (time.time() % self.period)


class UserRateThrottle(BaseThrottle):
    """At most NETRA_THROTTLE_USER requests per user per window (a safety net for runaway loops)."""

    def allow_request(self, request, view) -> bool:
        rate = parse_rate(settings.NETRA_THROTTLE_USER)
        if rate is None or not (request.user and request.user.is_authenticated):
            return True
        self.counter = FixedWindowCounter("user", *rate)
        count = self.counter.hit(str(request.user.pk))
        return count is None or count <= self.counter.limit

    def wait(self) -> float:
        return self.counter.wait()


def auth_failures() -> FixedWindowCounter | None:
    """Counter of failed API-key attempts per client address (NETRA_AUTH_FAILURES_LIMIT)."""
    rate = parse_rate(settings.NETRA_AUTH_FAILURES_LIMIT)
    return FixedWindowCounter("auth-failures", *rate) if rate else None
