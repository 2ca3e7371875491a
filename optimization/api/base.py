"""What the token-saving views share: who a request acts for, input validation, catalog lookups."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.errors import InvalidInput
from tokens.models import ModelPrice
from tokens.pricing import catalog

MAX_TEXT = 2_000_000
MAX_QUESTION = 10_000


class ActingInputSerializer(serializers.Serializer):
    # The fields every token-saving input has: whom it is for, and which agent's savings they are.
    # (A comment, not a docstring: the schema would describe every subclass with it.)

    user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")
    agent = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=100, help_text="Savings are booked to it."
    )


def valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def price_or_400(model: str) -> ModelPrice:
    price = catalog.latest(model)
    if price is None:
        raise InvalidInput(
            f"Unknown model {model!r}.", code="unknown_model", fields={"model": ["Not in the catalog."]}
        )
    return price
