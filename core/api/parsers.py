"""The API's JSON parser: DRF's, with a bound on how deeply a body may nest."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

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


class JSONParser(parsers.JSONParser):
    """A body nested past ``MAX_JSON_DEPTH`` is malformed JSON (a 400), never a RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        too_deep = ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, dict | list) and _deeper_than(data, MAX_JSON_DEPTH):
            raise too_deep
        return data
