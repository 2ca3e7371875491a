"""Catalog writes: importing a LiteLLM price map as new price versions.

Every rate the map prices is kept (``tokens.price_map``): token classes, cache
retentions, long-context tiers, service tiers and batch, per-unit prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tokens.models import ModelPrice
from tokens.price_map import entry_prices
from tokens.pricing import catalog


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    skipped: int = 0
    names: list[str] = field(default_factory=list)


def _canonical_names(entries: dict[str, dict]) -> dict[str, str]:
    """Catalog name per map key: ``gemini/gemini-2.5-pro`` becomes ``gemini-2.5-pro``
    when the prefix is the entry's own provider and no other entry claims the name."""
    claimed: dict[str, list[str]] = {}
    for key, entry in entries.items():
        provider = entry.get("litellm_provider", "")
        bare = key.split("/", 1)[1] if key.startswith(f"{provider}/") else key
        claimed.setdefault(bare, []).append(key)
    names = {}
    for bare, keys in claimed.items():
        if len(keys) == 1:
            names[keys[0]] = bare
        else:
            for key in keys:
                names[key] = key
    return names


def prices_import(
    *,
    data: dict[str, Any],
    valid_from: datetime | None = None,
    providers: list[str] | None = None,
    modes: list[str] | None = None,
    source: str = "",
) -> ImportResult:
    """Import a LiteLLM price map. Unchanged prices are skipped; a changed price
    adds a new version valid from ``valid_from`` (default now) and never edits
    an old one. The first version of a model is valid from the epoch so that
    history can be priced."""
    result = ImportResult()
    now = timezone.now()
    entries = {
        k: v
        for k, v in data.items()
        if isinstance(v, dict)
        and k != "sample_spec"
        and (not providers or v.get("litellm_provider") in providers)
        and (not modes or v.get("mode", "chat") in modes)
    }
    parsed = {k: entry_prices(v) for k, v in entries.items()}
    # Only entries that price something: a rate column or rate of any tier (not just "other").
    entries = {k: v for k, v in entries.items()
               if any(x is not None for x in parsed[k][0].values()) or set(parsed[k][1]) - {"other"}}
    names = _canonical_names(entries)
    latest = {}
    for row in ModelPrice.objects.filter(name__in=set(names.values())).order_by("name", "valid_from"):
        latest[row.name] = row
    to_create = []
    for key, entry in entries.items():
        name = names[key]
        provider = entry.get("litellm_provider", "")
        aliases = sorted(set(entry.get("aliases", [])) | ({key} if key != name else set()) | {f"{provider}/{name}"})
        columns, rates = parsed[key]
        fields = {
            "provider": provider,
            "mode": entry.get("mode", "chat"),
            "aliases": aliases,
            **columns,
            "rates": rates,
            "context_window": entry.get("max_input_tokens") or entry.get("max_tokens"),
            "max_output_tokens": entry.get("max_output_tokens"),
        }
        for int_field in ("context_window", "max_output_tokens"):
            if not isinstance(fields[int_field], int):
                fields[int_field] = None
        current = latest.get(name)
        if current is not None and _same_price(current, fields):
            result.unchanged += 1
            continue
        start = valid_from or (now if current is not None else datetime(2000, 1, 1, tzinfo=UTC))
        if current is not None and start <= current.valid_from:
            start = current.valid_from + timedelta(microseconds=1)
        to_create.append(ModelPrice(name=name, valid_from=start, source=source or key, **fields))
        result.names.append(name)
    ModelPrice.objects.bulk_create(to_create, batch_size=500)
    result.created = len(to_create)
    catalog.invalidate()
    return result


def _same_price(row: ModelPrice, fields: dict) -> bool:
    for name in ModelPrice.PRICE_FIELDS:
        old, new = getattr(row, name), fields[name]
        if (old is None) != (new is None) or (old is not None and Decimal(old) != Decimal(new)):
            return False
    return (
        (row.rates or {}) == fields["rates"]
        and row.mode == fields["mode"]
        and row.context_window == fields["context_window"]
        and row.max_output_tokens == fields["max_output_tokens"]
        and sorted(row.aliases or []) == fields["aliases"]
    )


