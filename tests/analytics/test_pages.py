"""The /dashboard/ and /reports/ pages and the staff analytics overview."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.models import Alert
from budgets.selectors import budgets_for_user
from budgets.services import budget_create
from optimization.models import SavingsRecord
from tests.analytics.conftest import post_usage, today_at


@pytest.fixture
def usage(user, other_user, acme):
    post_usage(user, occurred_at=today_at(0), count=3, run_id="alice-run", tool="search")
    post_usage(user, occurred_at=today_at(0, days_ago=40), count=1)
    post_usage(other_user, occurred_at=today_at(0), count=7, agent="bob-secret-agent", run_id="bob-run")


@pytest.mark.django_db
def test_dashboard_needs_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_dashboard_shows_only_own_numbers(client, user, usage, django_assert_max_num_queries):
    client.force_login(user)
    # session, user, rollup rows, savings, top runs, policy, budgets (a few once the budgets app is in)
    with django_assert_max_num_queries(12):
        response = client.get("/dashboard/?period=7d")
    assert response.status_code == 200
    page = response.content.decode()
    assert "$0.039" in page  # 3 x (1000 x $10 + 100 x $30) / 1M
    assert "alice-run" in page
    assert "bob-secret-agent" not in page and "bob-run" not in page
    assert 'id="dashboard-data"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert response.context["totals"]["requests"] == 3


@pytest.mark.django_db
def test_dashboard_periods(client, user, usage):
    client.force_login(user)
    assert client.get("/dashboard/?period=90d").context["totals"]["requests"] == 4
    day = today_at(0, days_ago=40).date().isoformat()
    custom = client.get(f"/dashboard/?period=custom&start={day}&end={day}")
    assert custom.context["totals"]["requests"] == 1
    assert custom.context["period"].days == 1
    bad = client.get("/dashboard/?period=custom&start=2026-03-01&end=2026-01-01")
    assert bad.status_code == 200
    assert bad.context["error"] == "end must not be before start."
    assert bad.context["period"].days == 30


@pytest.mark.django_db
def test_dashboard_without_usage(client, user):
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert "No usage in this period." in response.content.decode()


@pytest.mark.django_db
def test_reports_page_links_both_formats(client, user, usage, django_assert_max_num_queries):
    client.force_login(user)
    with django_assert_max_num_queries(12):
        response = client.get("/reports/?period=7d")
    page = response.content.decode()
    assert "/api/v1/reports/cost?format=summary&amp;period=7d" in page
    assert "/api/v1/reports/cost?format=csv&amp;period=7d" in page
    assert response.context["summary"]["total_requests"] == 3


@pytest.mark.django_db
def test_admin_overview(client, staff_user, user, other_user, usage, django_assert_max_num_queries):
    Alert.objects.create(kind=Alert.KIND_USAGE_SPIKE, dedupe_key="k1", message="spike of alice", user=user)
    client.force_login(staff_user)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("admin:analytics_overview") + "?period=7d")
    assert response.status_code == 200
    assert [row["user"].username for row in response.context["top_spenders"]] == ["bob", "alice"]
    assert response.context["totals"]["requests"] == 10
    assert response.context["open_alert_count"] == 1
    assert "spike of alice" in response.content.decode()


@pytest.mark.django_db
def test_admin_overview_is_staff_only(client, user):
    client.force_login(user)
    assert client.get(reverse("admin:analytics_overview")).status_code == 302


@pytest.mark.django_db
def test_acknowledge_action(client, staff_user, user):
    alert = Alert.objects.create(kind=Alert.KIND_USAGE_SPIKE, dedupe_key="k1", message="m", user=user)
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:analytics_alert_changelist"), {"action": "acknowledge", "_selected_action": [alert.pk]}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.acknowledged_by == staff_user


@pytest.mark.django_db
def test_savings_tiles_add_both_sources(client, user, acme):
    from decimal import Decimal


    post_usage(user, occurred_at=today_at(0), optimization={"technique": "compress", "original_tokens": 1400})
    SavingsRecord.objects.create(
        user=user,
        source="cache",
        technique="response_cache",
        original_tokens=500,
        optimized_tokens=0,
        tokens_saved=500,
        usd_saved=Decimal("0.002"),
    )
    SavingsRecord.objects.create(
        user=user,
        source="optimize",
        technique="compress",
        original_tokens=300,
        optimized_tokens=200,
        tokens_saved=100,
        usd_saved=Decimal("0.001"),
    )
    client.force_login(user)
    savings = client.get("/dashboard/?period=7d").context["savings"]
    # 400 reported prompt tokens at acme-large's $10/1M, plus the optimize service's $0.001
    assert (savings["optimization_tokens"], savings["optimization_usd"]) == (500, Decimal("0.005"))
    assert (savings["cache_tokens"], savings["cache_usd"], savings["cache_events"]) == (
        500,
        Decimal("0.002"),
        1,
    )


@pytest.mark.django_db
def test_dashboard_shows_budget_gauges(client, user, staff_user, acme):
    from decimal import Decimal


    budget_create(
        by=staff_user,
        scope="user_agent",
        agent="writer",
        period="month",
        user=user,
        limit_usd=Decimal("0.1"),
        enforcement="soft",
    )
    post_usage(user, occurred_at=today_at(0), count=3)
    (budget,) = budgets_for_user(user=user)
    client.force_login(user)
    response = client.get("/dashboard/?period=7d")
    page = response.content.decode()
    assert "Agent writer" in page
    assert response.context["budget_peak"] == budget["percent_used"]
    assert f"{budget['percent_used']:.1f}%" in page
