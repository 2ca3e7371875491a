"""Model lookup and exact pricing.

A record is priced with the catalog row whose ``valid_from`` is the latest at
or before the record's ``occurred_at``. Every normalized token class is priced
once at its own rate; cache and reasoning prices fall back to the input and
output price when the model has none.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from core.money import PER_MILLION
from tokens.counts import TokenCounts
from tokens.models import ModelPrice


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class Rates:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    reasoning: Decimal


def rates_for(price: ModelPrice, prompt_tokens: int) -> Rates:
    """Per-1M rates for a call; long-context tiers apply above their threshold."""
    input_rate = price.input_per_million
    output_rate = price.output_per_million
    cache_read = price.cache_read_per_million
    cache_write = price.cache_write_per_million
    reasoning = price.reasoning_per_million
    for tier in sorted(price.tiers or [], key=lambda t: t["above_input_tokens"]):
        if prompt_tokens > tier["above_input_tokens"]:
            input_rate = _dec(tier.get("input_per_million")) or input_rate
            output_rate = _dec(tier.get("output_per_million")) or output_rate
            cache_read = _dec(tier.get("cache_read_per_million")) or cache_read
            cache_write = _dec(tier.get("cache_write_per_million")) or cache_write
    return Rates(
        input=input_rate,
        output=output_rate,
        cache_read=input_rate if cache_read is None else cache_read,
        cache_write=input_rate if cache_write is None else cache_write,
        reasoning=output_rate if reasoning is None else reasoning,
    )


def cost_of(price: ModelPrice, counts: TokenCounts) -> Decimal:
    """Exact USD cost of ``counts`` at ``price`` (Decimal, no rounding)."""
    r = rates_for(price, counts.prompt)
    micro = (
        counts.input * r.input
        + counts.cached_input * r.cache_read
        + counts.cache_write * r.cache_write
        + counts.output * r.output
        + counts.reasoning * r.reasoning
    )
    return micro / PER_MILLION


def _lookup_keys(model: str) -> list[str]:
    """Names to try, in order: exact, lowercase, without a ``provider/`` prefix."""
    keys = [model, model.lower()]
    if "/" in model:
        bare = model.split("/", 1)[1]
        keys += [bare, bare.lower()]
    return list(dict.fromkeys(keys))


class Catalog:
    """Process-local view of the price catalog, refreshed every few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._versions: dict[str, list[ModelPrice]] = {}
        self._starts: dict[str, list[datetime]] = {}
        self._aliases: dict[str, str] = {}

    def invalidate(self) -> None:
        self._loaded_at = None

    def _ensure(self) -> None:
        ttl = settings.NETRA_CATALOG_CACHE_SECONDS
        if self._loaded_at is not None and time.monotonic() - self._loaded_at < ttl:
            return
        # Query without holding the lock: a thread waiting for a pooled
        # connection must never block threads that already hold one. Two
        # threads may reload at once; the last snapshot wins, both are valid.
        versions: dict[str, list[ModelPrice]] = {}
        aliases: dict[str, str] = {}
        for row in ModelPrice.objects.order_by("name", "valid_from"):
            versions.setdefault(row.name, []).append(row)
        for name, rows in versions.items():
            for alias in rows[-1].aliases or []:
                aliases.setdefault(alias, name)
                aliases.setdefault(alias.lower(), name)
            aliases.setdefault(f"{rows[-1].provider}/{name}", name)
        starts = {n: [r.valid_from for r in rows] for n, rows in versions.items()}
        with self._lock:  # swap all three maps together
            self._versions, self._starts, self._aliases = versions, starts, aliases
            self._loaded_at = time.monotonic()

    def _snapshot(self) -> tuple[dict, dict, dict]:
        self._ensure()
        with self._lock:
            return self._versions, self._starts, self._aliases

    @staticmethod
    def _name_in(versions: dict, aliases: dict, model: str) -> str | None:
        for key in _lookup_keys(model):
            if key in versions:
                return key
            if key in aliases:
                return aliases[key]
        return None

    def canonical_name(self, model: str) -> str | None:
        versions, _, aliases = self._snapshot()
        return self._name_in(versions, aliases, model)

    def resolve(self, model: str, at: datetime) -> ModelPrice | None:
        """The price row valid for ``model`` at ``at``, or None if unknown."""
        versions, starts, aliases = self._snapshot()
        name = self._name_in(versions, aliases, model)
        if name is None:
            return None
        idx = bisect.bisect_right(starts[name], at) - 1
        return versions[name][idx] if idx >= 0 else None

    def latest(self, model: str) -> ModelPrice | None:
        versions, _, aliases = self._snapshot()
        name = self._name_in(versions, aliases, model)
        return versions[name][-1] if name else None


catalog = Catalog()

