"""Calendar windows: derived from ``now`` so a reset happens exactly at the boundary, with no job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LIFETIME_START = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def valid_timezone(name: str) -> bool:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _local_midnight(year: int, month: int, day: int, tz: ZoneInfo) -> datetime:
    # Wall-clock midnight in the zone, then UTC; fold=0 picks the first midnight on a DST fall-back day.
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def window_bounds(period: str, tz_name: str, at: datetime) -> tuple[datetime, datetime | None]:
    """The [start, end) of the window containing ``at``, in UTC; lifetime ends never."""
    if period == "lifetime":
        return LIFETIME_START, None
    tz = zone(tz_name)
    local = at.astimezone(tz)
    day = local.date()
    if period == "day":
        start_day = day
        end_day = day + timedelta(days=1)
    elif period == "week":
        start_day = day - timedelta(days=day.weekday())
        end_day = start_day + timedelta(days=7)
    elif period == "month":
        start_day = day.replace(day=1)
        end_day = (start_day + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    return (
        _local_midnight(start_day.year, start_day.month, start_day.day, tz),
        _local_midnight(end_day.year, end_day.month, end_day.day, tz),
    )
