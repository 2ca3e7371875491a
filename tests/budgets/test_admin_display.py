"""The budget admin reads like the pages: thresholds as numbers, limits and spend in dollars, local windows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from budgets.admin_text import window_text
from budgets.models import Budget, Reservation
from budgets.selectors import budget_figures
from tests.budgets.test_admin_errors import add_form
from tests.factories import UsageRecordFactory


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_thresholds_are_typed_as_percentages(admin_client, user):
    form = admin_client.get("/admin/budgets/budget/add/").content.decode()
    assert 'name="thresholds" value="50, 80, 90, 100"' in form
    response = admin_client.post("/admin/budgets/budget/add/",
                                 add_form(user, limit_usd="25", thresholds="90, 50%, 50; 99.5"))
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert budget.thresholds == [50, 90, 99.5]
    change = admin_client.get(f"/admin/budgets/budget/{budget.pk}/change/").content.decode()
    assert 'name="thresholds" value="50, 90, 99.5"' in change
    assert 'name="limit_usd" value="25"' in change  # not 25.000000000000


@pytest.mark.django_db
def test_money_and_windows_are_formatted(admin_client, user):
    budget = Budget.objects.create(user=user, period="month", timezone="Europe/Paris", limit_usd=Decimal(25),
                                   limit_tokens=50_000)
    UsageRecordFactory(user=user, cost_usd=Decimal("0.85271"))
    listing = admin_client.get("/admin/budgets/budget/").content.decode()
    assert "$0.0000 / $25.00" not in listing and "$0.00 / $25.00" in listing  # nothing charged to the window
    change = admin_client.get(f"/admin/budgets/budget/{budget.pk}/change/").content.decode()
    assert "Spent $0.00 of $25.00 and 0 of 50,000 tokens; $0.00 and 0 tokens held; 0.00%, ok." in change
    (figures,) = budget_figures(budgets=[budget])
    # The window in the budget's zone, then the spend, then the forecast (its method: test_forecast.py).
    assert f"{window_text(budget, figures)}<br>Spent $0.00" in change
    assert "tokens held; 0.00%, ok.<br>Forecast at $0." in change  # $0.85271 over the last hour(s): under $1/h
    assert "T00:00:00" not in change and "+00:00" not in change


@pytest.mark.django_db
def test_window_text_is_local():
    budget = Budget(period="month", timezone="Europe/Paris")
    (figures,) = budget_figures(budgets=[Budget.objects.create(user=None, scope="global", period="month",
                                                                timezone="Europe/Paris", limit_tokens=1)],
                                now=datetime(2026, 3, 10, tzinfo=UTC))
    assert window_text(budget, figures) == "Sun Mar 1, 2026 00:00 to Wed Apr 1, 2026 00:00 (Europe/Paris)"
    assert window_text(budget, {**figures, "window_end": None}) == "Lifetime (no reset)"


@pytest.mark.django_db
def test_reservation_cost_column(admin_client, user):
    Reservation.objects.create(user=user, model="gpt-4o", cost_usd=Decimal("0.00421"), expires_at=timezone.now())
    listing = admin_client.get("/admin/budgets/reservation/").content.decode()
    assert '<td class="field-cost"><span title="0.00421 USD">$0.0042</span></td>' in listing
