"""Rate limits: requests and tokens per minute per API key, user and project (docs/organizations.md).

``rate_limits_take`` is the one entry point (the budget check calls it; the gateway will too). The
algorithm is a fixed window of one clock minute per limit: a call is let through only if every
applicable counter (requests and tokens, of the key, the user and the project) still has room for
it, and then all of them count it; a refused call counts nowhere. With ``REDIS_URL`` the counters
live in Redis and the check-and-count is one Lua script, atomic across every process; without it
(the embedded default, one server process) they live in this process under a lock, just as exact.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

import redis
from django.conf import settings

from budgets.models import UserRateLimit

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60

# KEYS: the counters; ARGV[1]: their time to live; then per counter its limit and increment.
# Returns 1 and every counter after counting, or 0 and every counter as it was (nothing counted).
_TAKE_LUA = """
local n = #KEYS
local current = {}
local allowed = 1
for i = 1, n do
  current[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current[i] + tonumber(ARGV[2 * i + 1]) > tonumber(ARGV[2 * i]) then allowed = 0 end
end
if allowed == 1 then
  for i = 1, n do
    current[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i + 1])
    redis.call('EXPIRE', KEYS[i], ARGV[1])
  end
end
table.insert(current, 1, allowed)
return current
"""


@dataclass(frozen=True)
class RateDecision:
    """May the call go ahead now; if not, when to retry. ``headers`` are OpenAI's x-ratelimit-* names."""

    allowed: bool
    retry_after: int = 0  # seconds; 0 when allowed
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""  # why not, naming the limit that blocked


@dataclass(frozen=True)
class RateLimit:
    """One holder's limits: ``who`` is "key", "user" or "project"."""

    who: str
    holder_id: int
    label: str
    rpm: int | None
    tpm: int | None


def rate_limits_for(*, api_key, user, project) -> list[RateLimit]:
    """The limits that apply to a call through ``api_key`` for ``user`` in ``project`` (any may be None)."""
    limits = []
    if api_key is not None and (api_key.rpm_limit is not None or api_key.tpm_limit is not None):
        limits.append(RateLimit("key", api_key.pk, f"key {api_key.key_prefix}… ({api_key.name})",
                                api_key.rpm_limit, api_key.tpm_limit))
    if user is not None:
        row = UserRateLimit.objects.filter(user_id=user.pk).first()
        if row is not None and (row.rpm_limit is not None or row.tpm_limit is not None):
            limits.append(RateLimit("user", user.pk, f"user {user.get_username()}", row.rpm_limit, row.tpm_limit))
    if project is not None and (project.rpm_limit is not None or project.tpm_limit is not None):
        limits.append(RateLimit("project", project.pk, f"project {project.name}", project.rpm_limit,
                                project.tpm_limit))
    return limits


def rate_limits_take(*, api_key, user, project, tokens: int, now: float | None = None) -> RateDecision:
    """Count one request of ``tokens`` tokens against every applicable limit, or refuse it whole.

    Allowed: the counters moved and ``headers`` tell the tightest limit left. Refused: nothing
    counted; ``retry_after`` is the seconds until the current minute ends.
    """
    limits = rate_limits_for(api_key=api_key, user=user, project=project)
    if not limits:
        return RateDecision(allowed=True)
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    counters = []  # (limit, kind, key, maximum, increment)
    prefix = settings.NETRA_RATELIMIT_PREFIX
    for limit in limits:
        if limit.rpm is not None:
            counters.append((limit, "requests", f"{prefix}{limit.who}:{limit.holder_id}:r:{window}", limit.rpm, 1))
        if limit.tpm is not None:
            counters.append((limit, "tokens", f"{prefix}{limit.who}:{limit.holder_id}:t:{window}", limit.tpm,
                             max(int(tokens), 0)))
    allowed, values = _take([(key, maximum, inc) for _, _, key, maximum, inc in counters])
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        left = [(maximum - value, maximum) for (_, k, _, maximum, _), value in zip(counters, values, strict=True)
                if k == kind]
        if left:
            remaining, maximum = min(left)
            headers[f"x-ratelimit-limit-{kind}"] = str(maximum)
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(remaining, 0))
            headers[f"x-ratelimit-reset-{kind}"] = f"{reset}s"
    if allowed:
        return RateDecision(allowed=True, headers=headers)
    blocked = [
        f"{limit.label}: {maximum} {kind} per minute"
        for (limit, kind, _, maximum, inc), value in zip(counters, values, strict=True) if value + inc > maximum
    ]
    headers["retry-after"] = str(reset)
    return RateDecision(allowed=False, retry_after=reset, headers=headers,
                        message=f"Rate limit reached ({'; '.join(blocked)}). Retry in {reset} s.")


def _take(counters: list[tuple[str, int, int]]) -> tuple[bool, list[int]]:
    if settings.REDIS_URL:
        try:
            result = _script(settings.REDIS_URL)(keys=[c[0] for c in counters],
                               args=[WINDOW_SECONDS * 2, *[v for c in counters for v in c[1:]]])
            return bool(result[0]), [int(v) for v in result[1:]]
        except redis.RedisError:
            # Fail open: a rate limit is traffic shaping, budgets still hold spend; the outage is logged.
            logger.exception("rate limits unavailable (Redis); letting the call through")
            return True, [0] * len(counters)
    return _local.take(counters)


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@lru_cache(maxsize=4)
def _script(url: str):
    return _client(url).register_script(_TAKE_LUA)


class _LocalCounters:
    """The embedded default's counters: this process's, under one lock (exact for one server process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.window_of: dict[str, int] = {}

    def take(self, counters: list[tuple[str, int, int]]) -> tuple[bool, list[int]]:
        with self.lock:
            current = [self.counts.get(key, 0) for key, _, _ in counters]
            if any(value + inc > maximum for value, (_, maximum, inc) in zip(current, counters, strict=True)):
                return False, current
            for key, _, inc in counters:
                self.counts[key] = self.counts.get(key, 0) + inc
            if len(self.counts) > 50_000:  # old windows
                window = max(int(k.rsplit(":", 1)[1]) for k, _, _ in counters)
                self.counts = {k: v for k, v in self.counts.items() if int(k.rsplit(":", 1)[1]) >= window}
            return True, [self.counts[key] for key, _, _ in counters]

    def usage(self, key: str) -> int:
        with self.lock:
            return self.counts.get(key, 0)

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()


_local = _LocalCounters()


def rate_usage(*, limit: RateLimit, now: float | None = None) -> dict[str, int]:
    """Requests and tokens ``limit``'s holder used in the current minute (for the Keys page)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    prefix = settings.NETRA_RATELIMIT_PREFIX
    keys = {kind: f"{prefix}{limit.who}:{limit.holder_id}:{kind[0]}:{window}" for kind in ("requests", "tokens")}
    if settings.REDIS_URL:
        try:
            values = _client(settings.REDIS_URL).mget(list(keys.values()))
            return {kind: int(v or 0) for kind, v in zip(keys, values, strict=True)}
        except redis.RedisError:
            return {"requests": 0, "tokens": 0}
    return {kind: _local.usage(key) for kind, key in keys.items()}
