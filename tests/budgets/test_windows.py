"""Windows are calendar-aligned in the budget's timezone and reset exactly at the boundary."""

from datetime import UTC, datetime, timedelta

import pytest

from budgets.services import budget_check
from budgets.windows import LIFETIME_START, window_bounds


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_day_window_in_utc():
    assert window_bounds("day", "UTC", utc(2026, 3, 10, 15, 30)) == (utc(2026, 3, 10), utc(2026, 3, 11))


def test_week_starts_on_monday():
    sunday_night = utc(2026, 11, 29, 23, 59, 59)
    monday = utc(2026, 11, 30)
    assert window_bounds("week", "UTC", sunday_night) == (utc(2026, 11, 23), utc(2026, 11, 30))
    assert window_bounds("week", "UTC", monday) == (utc(2026, 11, 30), utc(2026, 12, 7))


def test_month_starts_on_the_first_and_rolls_over_the_year():
    assert window_bounds("month", "UTC", utc(2026, 2, 28, 23)) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert window_bounds("month", "UTC", utc(2026, 12, 31, 23, 59)) == (utc(2026, 12, 1), utc(2027, 1, 1))


def test_lifetime_never_ends():
    assert window_bounds("lifetime", "Europe/Paris", utc(2026, 5, 5)) == (LIFETIME_START, None)


def test_day_follows_the_budget_timezone():
    # 03:00 UTC on 10 March is 23:00 on 9 March in New York (EDT, UTC-4).
    assert window_bounds("day", "America/New_York", utc(2026, 3, 10, 3)) == (
        utc(2026, 3, 9, 4), utc(2026, 3, 10, 4)
    )


def test_dst_change_day_is_23_hours_long():
    start, end = window_bounds("day", "America/New_York", utc(2026, 3, 8, 12))
    assert (start, end) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert end - start == timedelta(hours=23)


def test_month_in_tokyo_starts_before_utc_midnight():
    assert window_bounds("month", "Asia/Tokyo", utc(2026, 4, 30, 16)) == (utc(2026, 4, 30, 15), utc(2026, 5, 31, 15))


@pytest.mark.django_db
def test_spend_resets_exactly_at_the_boundary_without_a_job(user, make_budget, ingest):
    budget = make_budget(user=user, period="day", limit_tokens=1000)
    last_moment = utc(2026, 11, 23, 23, 59, 59, 999999)
    ingest(user, prompt=900, completion=100, occurred_at=last_moment)

    before = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10, max_output_tokens=10,
                          now=last_moment)
    after = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10, max_output_tokens=10,
                         now=utc(2026, 11, 24))

    assert (before.allowed, before.budgets[0]["spent_tokens"]) == (False, 1000)
    assert (after.allowed, after.budgets[0]["spent_tokens"]) == (True, 0)
    assert after.budgets[0]["id"] == budget.pk
    assert after.budgets[0]["window_start"] == utc(2026, 11, 24)


@pytest.mark.django_db
def test_budget_timezone_overrides_the_setting(user, make_budget, ingest, settings):
    settings.NETRA_BUDGET_TIMEZONE = "UTC"
    make_budget(user=user, period="day", limit_tokens=1000, timezone="Asia/Tokyo")
    # 14:59 UTC is 23:59 in Tokyo; 15:00 UTC is the next Tokyo day.
    ingest(user, prompt=500, completion=0, occurred_at=utc(2026, 11, 23, 14, 59))

    same_day = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=1, max_output_tokens=1,
                            now=utc(2026, 11, 23, 14, 59, 30))
    next_day = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=1, max_output_tokens=1,
                            now=utc(2026, 11, 23, 15))

    assert same_day.budgets[0]["spent_tokens"] == 500
    assert next_day.budgets[0]["spent_tokens"] == 0
    assert next_day.budgets[0]["window_start"] == utc(2026, 11, 23, 15)
