"""JSON blocks found inside prose, and their lexical compaction (whitespace outside strings only)."""

from __future__ import annotations

import json

_JSON_DECODER = json.JSONDecoder()


class TooComplex(Exception):
    """The input defeats JSON detection; it is returned unchanged rather than risk a block."""


# Each failed attempt costs O(position) inside the json module (it computes
# line numbers), so candidates are pre-filtered and failures are capped:
# adversarial input ("{"{"{"...) is returned unchanged instead of going quadratic.
_MAX_JSON_FAILURES = 200
_VALUE_START = frozenset('{["-0123456789tfn')
_OBJECT_NEXT = frozenset('"}')


def _next_non_space(text: str, i: int) -> str:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return text[i] if i < n else ""


def json_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every JSON object or array in ``text``; raises TooComplex on adversarial input."""
    spans = []
    failures = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "{[":
            nxt = _next_non_space(text, i + 1)
            plausible = nxt in _OBJECT_NEXT if ch == "{" else (nxt in _VALUE_START or nxt == "]")
            if not plausible:
                i += 1
                continue
            try:
                value, end = _JSON_DECODER.raw_decode(text, i)
            except ValueError:
                failures += 1
                if failures > _MAX_JSON_FAILURES:
                    raise TooComplex from None
                i += 1
                continue
            except RecursionError as exc:
                raise TooComplex from exc
            if isinstance(value, (dict, list)):
                spans.append((i, end))
                i = end
                continue
        i += 1
    return spans


def compact_json(raw: str) -> str:
    """Drop whitespace outside strings; literals keep their exact text."""
    out = []
    in_string = False
    escaped = False
    for ch in raw:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch not in " \t\r\n":
            out.append(ch)
    return "".join(out)
