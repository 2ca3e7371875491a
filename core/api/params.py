"""Query-parameter parsing shared by the API views: bad values are field errors, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter

from core.errors import InvalidInput

# The query parameter of every read a service key may make for a user (tokens.auth.acting_user).
USER_PARAM = OpenApiParameter("user", str, description="Service keys only: act for this user.")


def parse_when(value: str | None, name: str) -> datetime | None:
    """An ISO date or datetime query parameter (dates mean midnight UTC; naive times are UTC)."""
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is not None:
            parsed = datetime.combine(day, time.min, tzinfo=UTC)
    if parsed is None:
        raise InvalidInput(f"{name} must be an ISO 8601 date or datetime.", fields={name: ["Invalid date."]})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
