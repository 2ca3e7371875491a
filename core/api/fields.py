"""Serializer fields shared by the API's input and output serializers."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.limits import MAX_TOKENS
from core.money import money_str


class TokenCountField(serializers.IntegerField):
    """A token count from 0 to ``MAX_TOKENS``: bounded so that no sum or cost built from it can overflow.

    A number with a fraction (``1.5``) is rejected; an integral one (``1e3``) is read as the integer.
    """

    default_error_messages = {
        "max_value": "At most {max_value:,} tokens.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_TOKENS)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float):
            if not data.is_integer():
                self.fail("invalid")
            return int(data)
        return super().to_internal_value(data)


_SURROGATE = re.compile("[\ud800-\udfff]")


class FastSurrogateValidator(ProhibitSurrogateCharactersValidator):
    """DRF's check with its message, at C speed: DRF's walks the text in a Python generator, 60% of a
    100 KB ``tokens/count`` request (docs/benchmarks.md, "Issue 14"); ASCII text has no surrogate."""

    def __call__(self, value: Any) -> None:
        text = str(value)
        if text.isascii():
            return
        found = _SURROGATE.search(text)
        if found is not None:
            raise ValidationError(self.message.format(code_point=ord(found.group())), code=self.code)


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's coerces numbers (``123`` to ``"123"``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [FastSurrogateValidator() if type(v) is ProhibitSurrogateCharactersValidator else v
                           for v in self.validators]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# USD as the API writes it: the schema of every MoneyField, and of prices inside free-form objects.
MONEY_SCHEMA = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$", "example": "0.0015"}


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    """USD out: a plain decimal string without trailing zeros ("0.0015", "30"), never a float or "3E+1"."""

    def to_representation(self, value: Any) -> str | None:
        return money_str(value)


class IsoDateTimeField(serializers.DateTimeField):
    """A datetime out as ``isoformat()`` ("...+00:00"): DRF's would write "Z" and shift to the current zone."""

    def to_representation(self, value: Any) -> str | None:
        return value if isinstance(value, str) else value.isoformat()
