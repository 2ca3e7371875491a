"""Budget forecasts: the recent burn rate projected to the window's end, and when the budget runs out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from budgets.forecast import budget_forecast, forecast_sentence
from budgets.models import Budget
from budgets.selectors import figures
from budgets.windows import window_bounds
from tests.factories import UsageRecordFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def item_for(budget: Budget, *, spent_usd: str, spent_tokens: int = 0, reserved_usd: str = "0") -> dict:
    start, end = window_bounds(budget.period, "UTC", NOW)
    return figures(budget, window_start=start, window_end=end, spent_tokens=spent_tokens,
                   spent_usd=Decimal(spent_usd), reserved_tokens=0, reserved_usd=Decimal(reserved_usd))


@pytest.fixture
def burn(user, other_user):
    UsageRecordFactory(user=user, occurred_at=at(10, 6), cost_usd=Decimal(6), input_tokens=600, output_tokens=0)
    UsageRecordFactory(user=user, occurred_at=at(9, 18), cost_usd=Decimal(6), input_tokens=600, output_tokens=0,
                       agent="planner")
    UsageRecordFactory(user=user, occurred_at=at(8, 12), cost_usd=Decimal(50))  # before the last 24 hours
    UsageRecordFactory(user=other_user, occurred_at=at(10, 6), cost_usd=Decimal(40))  # someone else


@pytest.mark.django_db
def test_month_budget_from_the_last_24_hours(user, burn):
    budget = Budget.objects.create(user=user, period="month", timezone="UTC", limit_usd=Decimal(100))
    forecast = budget_forecast(budget=budget, item=item_for(budget, spent_usd="62", spent_tokens=1200), now=NOW)
    assert forecast["basis"] == {
        "start": at(9, 12), "end": NOW, "hours": Decimal("24.00"), "spent_usd": Decimal(12),
        "spent_tokens": 1200, "usd_per_hour": Decimal("0.5"), "tokens_per_hour": 50,
    }
    # 516 hours to April 1st: $62 + $0.50 x 516.
    assert forecast["projected_usd"] == Decimal(320)
    assert forecast["projected_tokens"] == 1200 + 50 * 516
    assert forecast["runs_out_at"] == at(13, 16)  # $38 left at $0.50/h: 76 hours
    assert forecast_sentence(forecast) == (
        "Forecast at $0.5000/h and 50 tokens/h (last 24.00 h): $320.00 and 27,000 tokens by the window's end; "
        "runs out 2026-03-13 16:00 UTC."
    )


@pytest.mark.django_db
def test_agent_scope_counts_only_that_agent_and_reserved_spend_shortens_the_runway(user, burn):
    budget = Budget.objects.create(user=user, scope="user_agent", agent="planner", period="month",
                                   timezone="UTC", limit_usd=Decimal(20))
    forecast = budget_forecast(budget=budget, item=item_for(budget, spent_usd="6", reserved_usd="2"), now=NOW)
    assert forecast["basis"]["usd_per_hour"] == Decimal("0.25")
    assert forecast["runs_out_at"] == at(12, 12)  # $12 left after the $2 held, at $0.25/h: 48 hours


@pytest.mark.django_db
def test_a_young_window_is_measured_over_at_least_an_hour(user):
    UsageRecordFactory(user=user, occurred_at=at(10, 0).replace(minute=10), cost_usd=Decimal(2))
    budget = Budget.objects.create(user=user, period="day", timezone="UTC", limit_usd=Decimal(100))
    now = at(10, 0).replace(minute=30)
    start, end = window_bounds("day", "UTC", now)
    item = figures(budget, window_start=start, window_end=end, spent_tokens=0, spent_usd=Decimal(2),
                   reserved_tokens=0, reserved_usd=Decimal(0))
    forecast = budget_forecast(budget=budget, item=item, now=now)
    assert (forecast["basis"]["start"], forecast["basis"]["hours"]) == (at(10, 0), Decimal("1.00"))
    assert forecast["projected_usd"] == Decimal(49)  # $2 + $2/h x 23.5 h
    assert forecast["runs_out_at"] is None  # $98 left lasts past midnight
    assert forecast_sentence(forecast).endswith("lasts the window.")


@pytest.mark.django_db
def test_used_up_and_lifetime(user, burn):
    spent = Budget.objects.create(user=user, period="month", timezone="UTC", limit_usd=Decimal(50))
    forecast = budget_forecast(budget=spent, item=item_for(spent, spent_usd="62"), now=NOW)
    assert forecast["runs_out_at"] == NOW
    assert forecast_sentence(forecast).endswith("already used up.")
    lifetime = Budget.objects.create(user=user, period="lifetime", limit_tokens=10**15)
    forecast = budget_forecast(budget=lifetime, item=item_for(lifetime, spent_usd="0", spent_tokens=1200), now=NOW)
    assert (forecast["projected_usd"], forecast["projected_tokens"], forecast["window_end"]) == (None, None, None)
    assert forecast["runs_out_at"] is None  # 10^15 tokens at 50 an hour: far beyond ten years
    assert forecast_sentence(forecast) == "Forecast at $0.5000/h and 50 tokens/h (last 24.00 h): no end in sight."


@pytest.mark.django_db
def test_budget_api_carries_the_forecast(api, user, staff_user):
    UsageRecordFactory(user=user, cost_usd=Decimal("1.2"))
    Budget.objects.create(user=user, period="lifetime", limit_usd=Decimal(10))
    (item,) = api.get("/api/v1/budgets").json()["budgets"]
    forecast = item["forecast"]
    assert list(forecast) == ["projected_usd", "projected_tokens", "runs_out_at", "window_end", "basis"]
    assert (forecast["projected_usd"], forecast["window_end"]) == (None, None)
    assert forecast["basis"]["spent_usd"] == "1.2"
    assert forecast["basis"]["usd_per_hour"] == "0.05"
    assert forecast["runs_out_at"] is not None  # $10 at $0.05/h: about a week away
