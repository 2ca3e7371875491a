"""The price catalog as the API answers it: a model's base prices, long-context tiers and every rate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import MONEY_SCHEMA, IsoDateTimeField, MoneyField
from core.money import money_str
from tokens.models import RATE_NAMES


def _price(value: Any) -> str:
    return money_str(Decimal(str(value)))


def _money(description: str = "") -> dict[str, Any]:
    return {**MONEY_SCHEMA, **({"description": description} if description else {})}


# A rate card: rate name -> price. Token classes are priced per 1M tokens, units per unit.
RATE_CARD_SCHEMA = {
    "type": "object",
    "description": "Rate name -> price. Token classes (input, cached_input, cache_write_1h, audio_output, ...) "
    "in USD per 1M tokens; billed units (input_per_second, input_per_character, per_image, "
    "per_image_<size>, per_query, web_search_medium, ...) in USD per unit.",
    "additionalProperties": _money(),
}


@extend_schema_field({
    "type": "array",
    "description": "The standard tier's long-context prices: they apply to the whole call when its prompt "
    "exceeds the threshold. Rates without a column name keep their rate name (cache_write_12h, ...).",
    "items": {
        "type": "object",
        "properties": {
            "above_input_tokens": {"type": "integer"},
            **{name: _money("USD per 1M tokens.") for name in RATE_NAMES.values()},
        },
        "required": ["above_input_tokens"],
        "additionalProperties": _money("Any other rate of the tier, by rate name."),
    },
})
class PriceTiersField(serializers.Field):
    """``ModelPrice.tiers``: every rate of each long-context tier, prices as plain decimal strings."""

    def to_representation(self, tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{name: value if name == "above_input_tokens" else _price(value) for name, value in tier.items()}
                for tier in tiers]


@extend_schema_field({
    "type": "object",
    "description": "Every rate of the model: service tier (standard, batch, flex, priority, ...) -> prompt "
    "threshold (\"0\", \"200000\", ...; a tier applies above it) -> rate card.",
    "properties": {
        "other": {
            "type": "object",
            "additionalProperties": {},
            "description": "Price keys of the LiteLLM map that Netra keeps verbatim but does not price.",
        },
    },
    "additionalProperties": {"type": "object", "additionalProperties": RATE_CARD_SCHEMA},
})
class PriceRatesField(serializers.Field):
    """``ModelPrice.rates``: the rate cards with prices as plain decimal strings, ``other`` as stored."""

    def to_representation(self, rates: dict[str, Any]) -> dict[str, Any]:
        return {
            tier: cards if tier == "other" else {
                threshold: {name: _price(value) for name, value in card.items()} for threshold, card in cards.items()
            }
            for tier, cards in (rates or {}).items()
        }


class ModelPriceOutputSerializer(serializers.Serializer):
    """One model of the catalog at its current prices (USD per 1M tokens; per unit where it says so)."""

    class Meta:
        ref_name = "ModelPrice"

    name = serializers.CharField()
    provider = serializers.CharField()
    mode = serializers.CharField(help_text="chat, embedding, image_generation, audio_transcription, ...")
    aliases = serializers.ListField(child=serializers.CharField())
    input_per_million = MoneyField(
        allow_null=True, help_text="Null: input tokens are not priced (the model bills seconds, characters, ...)."
    )
    output_per_million = MoneyField(allow_null=True, help_text="Null: output tokens are not priced.")
    cache_read_per_million = MoneyField(allow_null=True, help_text="Null: billed at the input price.")
    cache_write_per_million = MoneyField(allow_null=True, help_text="Null: billed at the input price.")
    reasoning_per_million = MoneyField(allow_null=True, help_text="Null: billed at the output price.")
    tiers = PriceTiersField()
    rates = PriceRatesField()
    context_window = serializers.IntegerField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)
    valid_from = IsoDateTimeField()
