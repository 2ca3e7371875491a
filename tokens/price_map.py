"""Reading the LiteLLM price map's keys into catalog rates, without losing any.

A map key is a base price, then optional suffixes, in this order::

    cache_creation_input_token_cost  _above_1hr   _above_200k_tokens  _priority
    <base>                           <retention>  <long-context tier> <service tier>

Token bases become USD per 1M tokens under their token class; unit bases
(seconds, characters, images, queries, requests) stay USD per unit. They land
in ``ModelPrice.rates[<service tier>][<threshold>][<rate name>]``; the
standard tier's base token rates are the five price columns. Every other
price key (``tiered_pricing``, OCR pages, file search, regional multipliers,
...) is kept verbatim under ``rates["other"]``. ``map_prices`` turns a row
back into the map's keys, so a test can prove nothing was lost.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from core.money import PER_MILLION, money_str

# Token-priced bases -> token class.
TOKEN_BASES = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached_input",
    "cache_creation_input_token_cost": "cache_write",
    "output_cost_per_reasoning_token": "reasoning",
    "input_cost_per_audio_token": "audio_input",
    "cache_read_input_audio_token_cost": "cached_audio_input",
    "input_cost_per_image_token": "image_input",
    "cache_read_input_image_token_cost": "cached_image_input",
    "input_cost_per_video_token": "video_input",
    "output_cost_per_audio_token": "audio_output",
    "output_cost_per_image_token": "image_output",
}
# Unit-priced bases -> rate name (USD per unit).
UNIT_BASES = {
    "input_cost_per_second": "input_per_second",
    "output_cost_per_second": "output_per_second",
    "input_cost_per_audio_per_second": "input_audio_per_second",
    "input_cost_per_video_per_second": "input_video_per_second",
    "output_cost_per_video_per_second": "output_video_per_second",
    "input_cost_per_character": "input_per_character",
    "output_cost_per_character": "output_per_character",
    "input_cost_per_image": "input_per_image",
    "output_cost_per_image": "per_image",
    "input_cost_per_pixel": "input_per_pixel",
    "output_cost_per_pixel": "output_per_pixel",
    "input_cost_per_query": "per_query",
    "input_cost_per_request": "per_request",
}
RETENTIONS = {"1hr": "cache_write_1h", "12hr": "cache_write_12h"}
SERVICE_TIER_SUFFIXES = {"batches": "batch", "flex": "flex", "priority": "priority", "ultrafast": "ultrafast",
                         "decisions": "decisions", "balanced": "balanced"}
# The standard tier's base rates live in these columns.
COLUMNS = {
    "input": "input_per_million",
    "output": "output_per_million",
    "cached_input": "cache_read_per_million",
    "cache_write": "cache_write_per_million",
    "reasoning": "reasoning_per_million",
}
WEB_SEARCH_KEY = "search_context_cost_per_query"

_BASES = "|".join(sorted((re.escape(b) for b in (*TOKEN_BASES, *UNIT_BASES)), key=len, reverse=True))
KEY_RE = re.compile(
    rf"^(?P<base>{_BASES})"
    r"(?:_above_(?P<retention>1hr|12hr))?"
    r"(?:_above_(?P<k>\d+)k_tokens)?"
    rf"(?:_(?P<tier>{'|'.join(SERVICE_TIER_SUFFIXES)}))?$"
)
# Per-size image prices: output_cost_per_image_1024, output_cost_per_image_2K, ...
IMAGE_SIZE_RE = re.compile(r"^output_cost_per_image_(?P<size>[0-9.]+K?)$")


def is_price_key(key: str) -> bool:
    """A map key that prices something (every such key is kept)."""
    return "cost" in key or "pricing" in key or "multiplier" in key


def plain(value: Any) -> Any:
    """Numbers as plain decimal strings (never "3E+1"), recursively; other values as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return money_str(Decimal(str(value)))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def parse_key(key: str) -> tuple[str, str, int, bool] | None:
    """(rate name, service tier, threshold, per token) of a map key, or None if not a rate key."""
    size = IMAGE_SIZE_RE.match(key)
    if size:
        return f"per_image_{size['size']}", "standard", 0, False
    match = KEY_RE.match(key)
    if not match:
        return None
    base, retention = match["base"], match["retention"]
    if retention and base != "cache_creation_input_token_cost":
        return None
    name = RETENTIONS[retention] if retention else TOKEN_BASES.get(base) or UNIT_BASES[base]
    tier = SERVICE_TIER_SUFFIXES[match["tier"]] if match["tier"] else "standard"
    threshold = int(match["k"]) * 1000 if match["k"] else 0
    return name, tier, threshold, base in TOKEN_BASES


def entry_prices(entry: dict[str, Any]) -> tuple[dict[str, Decimal | None], dict[str, Any]]:
    """The price columns and the ``rates`` JSON of one map entry."""
    columns: dict[str, Decimal | None] = dict.fromkeys(COLUMNS.values())
    rates: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in entry.items():
        if not is_price_key(key):
            continue
        parsed = parse_key(key)
        number = _number(value)
        if key == WEB_SEARCH_KEY and isinstance(value, dict) and all(_number(v) is not None for v in value.values()):
            card = rates.setdefault("standard", {}).setdefault("0", {})
            for size, per_query in value.items():
                card[f"web_search_{size.removeprefix('search_context_size_')}"] = plain(per_query)
            continue
        if parsed is None or number is None:
            other[key] = plain(value)
            continue
        name, tier, threshold, per_token = parsed
        amount = number * PER_MILLION if per_token else number
        if tier == "standard" and threshold == 0 and name in COLUMNS:
            columns[COLUMNS[name]] = Decimal(money_str(amount))
            continue
        rates.setdefault(tier, {}).setdefault(str(threshold), {})[name] = money_str(amount)
    if other:
        rates["other"] = other
    return columns, rates


def map_prices(columns: dict[str, Decimal | None], rates: dict[str, Any]) -> dict[str, Decimal]:
    """The map keys (USD per token or per unit) a row's columns and rates stand for: the inverse of
    ``entry_prices`` for every key it parses (``other`` keys are compared verbatim, apart)."""
    inverse_tokens = {v: k for k, v in TOKEN_BASES.items()}
    inverse_units = {v: k for k, v in UNIT_BASES.items()}
    inverse_tiers = {v: k for k, v in SERVICE_TIER_SUFFIXES.items()}
    out: dict[str, Decimal] = {}
    for name, column in COLUMNS.items():
        if columns.get(column) is not None:
            out[inverse_tokens[name]] = Decimal(columns[column]) / PER_MILLION
    for tier, cards in rates.items():
        if tier == "other":
            continue
        for threshold, card in cards.items():
            for name, value in card.items():
                if name.startswith("web_search_"):
                    continue
                if name.startswith("per_image_"):
                    out[f"output_cost_per_image_{name.removeprefix('per_image_')}"] = Decimal(value)
                    continue
                if name in ("cache_write_1h", "cache_write_12h"):
                    key = "cache_creation_input_token_cost_above_" + ("1hr" if name.endswith("1h") else "12hr")
                else:
                    key = inverse_tokens.get(name) or inverse_units[name]
                if threshold != "0":
                    key += f"_above_{int(threshold) // 1000}k_tokens"
                if tier != "standard":
                    key += f"_{inverse_tiers[tier]}"
                per_token = name in TOKEN_CLASS_NAMES
                out[key] = Decimal(value) / PER_MILLION if per_token else Decimal(value)
    return out


TOKEN_CLASS_NAMES = {*TOKEN_BASES.values(), *RETENTIONS.values()}
