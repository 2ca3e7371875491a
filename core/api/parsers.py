"""The API's JSON parser: DRF's, with a bound on how deeply a body may nest and no invalid text.

Every string and key of a body is checked (``core.validation.json_text_errors``): a NUL
or a lone surrogate anywhere is a 400 naming its dotted path (``messages.0.content``),
before any view sees the body. The usage endpoint parses with ``PerRecordJSONParser``
instead: there each record is checked on its own, so a bad record in a batch is refused
alone and every valid one is stored.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from core.validation import json_text_errors

# Far deeper than any usage record, provider response or tool schema, and shallow
# enough that everything that walks a body later (json.dumps of metadata or a
# cached response, the renderer) stays far inside Python's recursion limit.
MAX_JSON_DEPTH = 128


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether ``data`` nests objects and arrays more than ``limit`` levels (iteratively: no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


class PerRecordJSONParser(parsers.JSONParser):
    """A body nested past ``MAX_JSON_DEPTH`` is malformed JSON (a 400), never a RecursionError (a 500).

    Its text is left to the view, which checks it record by record.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        too_deep = ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, dict | list) and _deeper_than(data, MAX_JSON_DEPTH):
            raise too_deep
        return data


class JSONParser(PerRecordJSONParser):
    """Also refuses invalid text anywhere in the body: a 400 ``invalid`` naming each dotted path."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        errors = json_text_errors(data)
        if errors:
            raise ValidationError(errors)
        return data
