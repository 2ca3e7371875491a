"""What the token-saving views share: who a request acts for, input validation, catalog lookups."""

from __future__ import annotations

from rest_framework import serializers

from core.errors import InvalidInput
from tokens.pricing import catalog

MAX_TEXT = 2_000_000


class ActingInputSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")
    agent = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def price_or_400(model: str):
    price = catalog.latest(model)
    if price is None:
        raise InvalidInput(
            f"Unknown model {model!r}.", code="unknown_model", fields={"model": ["Not in the catalog."]}
        )
    return price
