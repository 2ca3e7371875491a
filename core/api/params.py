"""Query and path parameters: every one is checked before it reaches a database.

- ``query_string_errors`` holds every query parameter of every request to the text
  rule (no NUL, no lone surrogate) and a length bound; ``core.middleware`` refuses a
  request that breaks it, so no view's lookup can meet such a value.
- ``query_text`` and ``parse_when`` read one parameter with its own bound or format,
  as a field error naming it.
- ``TextIdConverter`` (``<text_id:...>``) and ``IdConverter`` (``<id:...>``) are the
  path converters of the API's ids: a path id that could not be stored matches no URL
  (a JSON 404 under /api/, like a malformed budget or reservation id always was).
"""

from __future__ import annotations

from datetime import datetime

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter

from core.errors import InvalidInput
from core.validation import parse_iso_datetime, text_error

# The query parameter of every read a service key may make for a user (tokens.auth.acting_user).
USER_PARAM = OpenApiParameter("user", str, description="Service keys only: act for this user.")

# No parameter the API reads is near this long (the longest are names of up to 200 characters and
# pagination cursors); admin searches stay far below it too.
MAX_QUERY_VALUE = 1000
# The longest text id a path carries (run ids and template names are at most 200 characters).
MAX_PATH_ID = 200


def query_string_errors(params: QueryDict) -> dict[str, list[str]]:
    """Every query parameter name and value that no lookup may see, as field errors."""
    errors: dict[str, list[str]] = {}
    for name, values in params.lists():
        problem = text_error(name, MAX_QUERY_VALUE)
        if problem:
            errors["query"] = [f"A parameter name: {problem}"]
            continue
        for value in values:
            problem = text_error(value, MAX_QUERY_VALUE)
            if problem:
                errors[name] = [problem]
                break
    return errors


def query_text(params: QueryDict, name: str, *, max_length: int = 200) -> str | None:
    """A text parameter that filters a column of ``max_length`` characters; None when absent or empty."""
    value = params.get(name)
    if not value:
        return None
    problem = text_error(value, max_length)
    if problem:
        raise InvalidInput(f"Invalid {name}: {problem}", fields={name: [problem]})
    return value


def parse_when(value: str | None, name: str) -> datetime | None:
    """An ISO date or datetime query parameter (dates mean midnight UTC; naive times are UTC).

    Impossible dates (``2024-02-30``), offsets of a day or more and trailing text are field errors.
    """
    if not value:
        return None
    parsed = parse_iso_datetime(value)
    if parsed is None:
        raise InvalidInput(f"{name} must be an ISO 8601 date or datetime.", fields={name: ["Invalid date."]})
    return parsed


class TextIdConverter:
    """A path id stored as text: 1 to MAX_PATH_ID characters, no slash, no NUL, no lone surrogate."""

    regex = f"[^/]{{1,{MAX_PATH_ID}}}"

    def to_python(self, value: str) -> str:
        if text_error(value):
            raise ValueError(value)  # matches no URL: a 404
        return value

    def to_url(self, value: str) -> str:
        return value


class IdConverter:
    """A numeric primary key: at most 18 digits, so it fits a 64-bit column on every database."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def query_int(params: QueryDict, name: str) -> int | None:
    """A positive integer id parameter; None when absent or empty, a 400 naming it when not a number."""
    value = params.get(name)
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        message = "Must be a positive integer id."
        raise InvalidInput(f"Invalid {name}: {message}", fields={name: [message]})
    return int(value)
