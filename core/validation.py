"""What every input is checked against before it reaches a database: text and timestamps.

One rule for text, in every layer: a string may not carry a NUL (PostgreSQL's
text and jsonb refuse it) or a lone surrogate (it has no UTF-8 form, so no
driver can send it). JSON can spell both (``"\\u0000"``, ``"\\ud800"``) and
Python's json module accepts them, so every string a client sends is checked:
serializer fields (DRF's CharField already refuses both), whole JSON bodies
(``core.api.parsers``), each usage record (``tokens.usage_input``), query
parameters (``core.api.params``) and path ids (``core.api.converters``).

Timestamps are ISO 8601 and nothing else: ``parse_iso`` refuses impossible
dates (``2024-02-30``), offsets of a day or more (``+99:00``) and trailing text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

NUL_MESSAGE = "Null characters are not allowed."  # DRF's CharField says the same
SURROGATE_MESSAGE = "Surrogate characters are not allowed (not valid Unicode)."
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")

# Paths reported per body: enough to fix a request, never an answer as large as the request.
MAX_REPORTED = 20


def text_error(value: str, max_length: int | None = None) -> str | None:
    """Why ``value`` cannot be stored as text, or None. Cheap on the common (ASCII) case."""
    if max_length is not None and len(value) > max_length:
        return f"At most {max_length:,} characters."
    if value.isascii():
        return NUL_MESSAGE if "\x00" in value else None
    bad = _BAD_CHAR.search(value)
    if bad is None:
        return None
    return NUL_MESSAGE if bad.group() == "\x00" else SURROGATE_MESSAGE


def string_error(value: Any, max_length: int) -> str | None:
    """Why ``value`` is not a storable string of at most ``max_length`` characters, or None."""
    if not isinstance(value, str):
        return f"Must be a string of at most {max_length} characters."
    return text_error(value, max_length)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def json_text_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Invalid text anywhere in a parsed JSON value (keys and strings at any depth), by dotted path.

    ``{"metadata": {"a": ["ok", "\\u0000"]}}`` -> ``{"metadata.a.1": ["Null characters are not allowed."]}``.
    Iterative, so no nesting depth can exhaust the stack; at most MAX_REPORTED paths.
    """
    errors: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(data, prefix)]
    while stack and len(errors) < MAX_REPORTED:
        value, path = stack.pop()
        if isinstance(value, str):
            problem = text_error(value)
            if problem:
                errors[path or "body"] = [problem]
        elif isinstance(value, dict):
            for key, child in value.items():
                problem = text_error(key) if isinstance(key, str) else None
                if problem:
                    # The key itself is what cannot be stored: name its parent, and say so.
                    errors[path or "body"] = [f"A key: {problem}"]
                    continue
                if isinstance(child, str | dict | list):
                    stack.append((child, _join(path, key)))
        elif isinstance(value, list):
            stack.extend((child, _join(path, i)) for i, child in enumerate(value)
                         if isinstance(child, str | dict | list))
    return errors


def json_text_is_clean(dumped: str) -> bool:
    """Whether JSON text made by ``json.dumps`` (ensure_ascii on) certainly holds no NUL or surrogate.

    Both are escaped in such text (``\\u0000``, ``\\udXXX``): without either escape there is nothing to
    find, which spares walking the value. A match may be harmless (an emoji is a surrogate pair, a
    backslash before ``u0000`` is text): walk the value then.
    """
    return "\\u0000" not in dumped and "\\ud" not in dumped


# ISO 8601 as the API documents it: a date, or a date and time with an optional zone. Anchored with
# \Z: "$" would let a trailing newline through.
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?\Z"
)


def parse_iso(value: str) -> datetime | date | None:
    """An ISO 8601 date (a ``date``) or datetime (naive when it names no zone); None when it is not one.

    None for anything impossible too: ``2024-02-30``, ``24:00``, an offset of a day or more (``+99:00``),
    trailing text.
    """
    if not _ISO.match(value):
        return None
    try:
        return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    except ValueError:
        return None


def parse_iso_datetime(value: str) -> datetime | None:
    """An ISO 8601 date or datetime as an aware datetime (a date is midnight UTC, a naive time is UTC)."""
    parsed = parse_iso(value)
    if parsed is None:
        return None
    if not isinstance(parsed, datetime):
        return datetime.combine(parsed, time.min, tzinfo=UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
