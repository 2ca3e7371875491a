"""Model lookup and exact pricing.

A record is priced with the catalog row whose ``valid_from`` is the latest at
or before the record's ``occurred_at``. Every normalized token class is priced
once at its own rate, at the service tier the provider says served the call
(batch, flex, priority) and the long-context tier its prompt reaches; billed
units that are not tokens (seconds, characters, images, queries, web searches)
at their per-unit price. A class without a rate of its own falls back as
``FALLBACK`` says; a class or unit with no rate at all leaves the call unpriced.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from core.money import PER_MILLION, ZERO
from tokens.counts import TOKEN_CLASSES, TokenCounts
from tokens.models import ModelPrice, PriceOverride

# A class without a rate of its own is priced at this class's rate (as LiteLLM does): a cache read
# at the input rate, a 1-hour write at the 5-minute write rate, reasoning at the output rate.
FALLBACK = {
    "cached_input": "input",
    "cache_write": "input",
    "cache_write_1h": "cache_write",
    "cache_write_12h": "cache_write",
    "reasoning": "output",
    "audio_input": "input",
    "cached_audio_input": "cached_input",
    "image_input": "input",
    "cached_image_input": "cached_input",
    "video_input": "input",
    "audio_output": "output",
    "image_output": "output",
}
# Service tiers as providers name them in responses -> the catalog's tier names.
SERVICE_TIERS = {
    "": "standard",
    "standard": "standard",
    "default": "standard",
    "auto": "standard",
    "on_demand": "standard",
    "batch": "batch",
    "batches": "batch",
    "flex": "flex",
    "priority": "priority",
    "fast": "priority",  # OpenAI reports fast mode as priority
    "ultrafast": "ultrafast",
    "decisions": "decisions",
    "balanced": "balanced",
}
# Billed units that are not tokens (UsageRecord.units) -> the rate that prices one of them.
UNIT_RATES = {
    "input_seconds": "input_per_second",
    "output_seconds": "output_per_second",
    "input_audio_seconds": "input_audio_per_second",
    "input_video_seconds": "input_video_per_second",
    "output_video_seconds": "output_video_per_second",
    "input_characters": "input_per_character",
    "output_characters": "output_per_character",
    "input_images": "input_per_image",
    "images": "per_image",
    "queries": "per_query",
    "requests": "per_request",
    "web_search_requests": "web_search",
}
UNIT_QUALIFIERS = ("image_size", "search_context_size")
UNIT_NAMES = (*UNIT_RATES, *UNIT_QUALIFIERS)


def service_tier_name(value: str) -> str:
    """The catalog tier a provider's ``service_tier`` names (unknown names: as given, priced as standard)."""
    value = (value or "").strip().lower()
    return SERVICE_TIERS.get(value, value)


@dataclass(frozen=True)
class Rates:
    """USD per 1M tokens for every token class of one call, and USD per unit for its other units."""

    tokens: dict[str, Decimal | None]
    units: dict[str, Decimal]

    @property
    def input(self) -> Decimal:
        return self.tokens["input"] or ZERO

    @property
    def output(self) -> Decimal:
        return self.tokens["output"] or ZERO

    @property
    def cache_read(self) -> Decimal:
        return self.tokens["cached_input"] or ZERO

    @property
    def cache_write(self) -> Decimal:
        return self.tokens["cache_write"] or ZERO

    @property
    def reasoning(self) -> Decimal:
        return self.tokens["reasoning"] or ZERO


class PriceCard:
    """A catalog row's rates parsed once (Decimals, thresholds sorted), then memoized per tier and size."""

    def __init__(self, price: ModelPrice) -> None:
        base = {"input": price.input_per_million, "output": price.output_per_million,
                "cached_input": price.cache_read_per_million, "cache_write": price.cache_write_per_million,
                "reasoning": price.reasoning_per_million}
        self.tiers: dict[str, list[tuple[int, dict[str, Decimal]]]] = {}
        for tier, cards in (price.rates or {}).items():
            if tier == "other" or not isinstance(cards, dict):
                continue
            self.tiers[tier] = sorted(
                (int(threshold), {name: Decimal(str(value)) for name, value in card.items()})
                for threshold, card in cards.items()
            )
        standard = self.tiers.setdefault("standard", [])
        if not standard or standard[0][0] != 0:
            standard.insert(0, (0, {}))
        standard[0] = (0, {**{k: Decimal(v) for k, v in base.items() if v is not None}, **standard[0][1]})
        self._memo: dict[tuple, Rates] = {}
        self._flat: Rates | None = None
        if len(self.tiers["standard"]) == 1:
            self._flat = self.rates("standard", 0)

    def rates(self, service_tier: str = "", prompt_tokens: int = 0) -> Rates:
        """The rates of a call served at ``service_tier`` with ``prompt_tokens`` of prompt.

        The standard tier's base rates, overlaid with its long-context tiers the prompt
        exceeds, then with the service tier's own base and long-context rates; a class still
        without a rate takes its FALLBACK class's rate.
        """
        if not service_tier and self._flat is not None:  # the common call: standard tier, no thresholds
            return self._flat
        tier = service_tier_name(service_tier)
        if tier not in self.tiers:
            tier = "standard"
        layers = []
        for name in dict.fromkeys(("standard", tier)):
            layers += [(name, t) for t, _ in self.tiers[name] if t == 0 or prompt_tokens > t]
        key = tuple(layers)
        rates = self._memo.get(key)
        if rates is None:
            merged: dict[str, Decimal] = {}
            for name, threshold in layers:
                merged.update(dict(self.tiers[name])[threshold])
            tokens: dict[str, Decimal | None] = {}
            for cls in TOKEN_CLASSES:
                rate, fallback = merged.get(cls), cls
                while rate is None and fallback in FALLBACK:
                    fallback = FALLBACK[fallback]
                    rate = merged.get(fallback)
                tokens[cls] = rate
            units = {name: value for name, value in merged.items() if name not in TOKEN_CLASSES}
            rates = self._memo[key] = Rates(tokens=tokens, units=units)
        return rates


def price_card(price: ModelPrice) -> PriceCard:
    """The parsed rates of a catalog row, built once per row object (the catalog keeps its rows)."""
    card = getattr(price, "_card", None)
    if card is None:
        card = price._card = PriceCard(price)
    return card


def rates_for(price: ModelPrice, prompt_tokens: int, service_tier: str = "") -> Rates:
    """Per-1M rates for a call; long-context tiers apply above their threshold."""
    return price_card(price).rates(service_tier, prompt_tokens)


def _unit_rate(rates: Rates, unit: str, units: dict) -> tuple[Decimal | None, Decimal]:
    """The rate of one billed unit and the multiplier of its count (pixels per image)."""
    name = UNIT_RATES[unit]
    if unit == "web_search_requests":
        size = str(units.get("search_context_size") or "medium").lower()
        return rates.units.get(f"web_search_{size}", rates.units.get("web_search_medium")), Decimal(1)
    if unit == "images":
        size = str(units.get("image_size") or "")
        rate = rates.units.get(f"per_image_{size}") if size else None
        if rate is None:
            rate = rates.units.get("per_image")
        if rate is None and "x" in size:
            pixel = rates.units.get("output_per_pixel", rates.units.get("input_per_pixel"))
            width, _, height = size.partition("x")
            if pixel is not None and width.isdigit() and height.isdigit():
                return pixel, Decimal(int(width) * int(height))
        return rate, Decimal(1)
    return rates.units.get(name), Decimal(1)


def cost_of(price: ModelPrice, counts: TokenCounts, *, service_tier: str = "",
            units: dict | None = None) -> Decimal | None:
    """Exact USD list cost of a call at ``price`` (Decimal, no rounding).

    None when the call has tokens of a class, or a billed unit, that the price
    has no rate for: such a call is stored unpriced, never at a silent $0.
    """
    rates = rates_for(price, counts.prompt, service_tier)
    micro = ZERO
    for cls, count in counts.items():
        rate = rates.tokens[cls]
        if rate is None:
            return None
        micro += count * rate
    cost = micro / PER_MILLION
    for unit, count in (units or {}).items():
        if unit in UNIT_QUALIFIERS or not count:
            continue
        rate, per = _unit_rate(rates, unit, units)
        if rate is None:
            return None
        cost += Decimal(str(count)) * per * rate
    return cost


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
        self._overrides: dict[int, list[PriceOverride]] = {}

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
        overrides: dict[int, list[PriceOverride]] = {}
        for override in PriceOverride.objects.order_by("user_id", "-valid_from"):
            overrides.setdefault(override.user_id, []).append(override)
        with self._lock:  # swap all maps together
            self._versions, self._starts, self._aliases = versions, starts, aliases
            self._overrides = overrides
            self._loaded_at = time.monotonic()

    def _snapshot(self) -> tuple[dict, dict, dict]:
        self._ensure()
        with self._lock:
            return self._versions, self._starts, self._aliases

    def multiplier(self, user_id: int, price: ModelPrice, at: datetime) -> Decimal | None:
        """The customer's override multiplier for a call at ``price`` at ``at`` (None: list price).

        The most specific override in force wins: the model's, else the provider's, else one
        for every model; within each, the latest ``valid_from`` at or before ``at``.
        """
        self._ensure()
        overrides = self._overrides  # one reference read: the maps are swapped whole, never mutated
        rows = overrides.get(user_id) if overrides else None
        if not rows:
            return None
        best = None
        for row in rows:  # newest first
            if row.valid_from > at:
                continue
            if row.model:
                rank = 0 if row.model == price.name else None
            elif row.provider:
                rank = 1 if row.provider == price.provider else None
            else:
                rank = 2
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, row.multiplier)
                if rank == 0:
                    break
        return None if best is None else best[1]

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

