"""AutoTokenOptimizer: triggers lead to a per-user policy; admins may pin or override it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.models import OptimizationPolicy
from analytics.services import policies_refresh_all, policy_refresh
from analytics.tasks import policies_refresh
from optimization.models import SavingsRecord
from tests.analytics.conftest import post_usage, today_at


@pytest.fixture
def heavy_user(user, acme, settings):
    settings.NETRA_POLICY_HIGH_COST_PER_DAY = 1
    # 30 calls of acme-large with 100,000 prompt and 1,000 output tokens: $1.03 each, $30.90 in all.
    post_usage(user, occurred_at=today_at(0, days_ago=2), count=30, prompt=100_000, completion=1_000)
    return user


@pytest.mark.django_db
def test_high_cost_and_low_efficiency(heavy_user):
    policy = policy_refresh(user=heavy_user)
    assert policy.triggers == ["high_cost", "low_efficiency"]
    assert policy.current_model == "acme-large"
    # acme-medium costs 50% of acme-large for this mix, acme-small 5%: the dearest one under 70% wins.
    assert policy.suggested_model == "acme-medium"
    assert policy.compression_level == "aggressive"
    assert policy.caching_enabled is False
    # model switch: $30.90 - $15.45; compression: 35% of 3,000,000 input tokens at acme-medium's $5/1M
    assert policy.figures["savings_usd"] == {
        "model_switch": "15.450000",
        "compression": "5.250000",
        "caching": "0.000000",
    }
    assert policy.estimated_savings_usd == Decimal("20.7")


@pytest.mark.django_db
def test_repetitive_queries_turn_caching_on(user, acme):
    post_usage(user, occurred_at=today_at(0, days_ago=1), count=20, prompt=100, completion=100)
    SavingsRecord.objects.bulk_create(
        [
            SavingsRecord(
                user=user,
                source="cache",
                technique="response_cache",
                model="acme-large",
                original_tokens=200,
                optimized_tokens=0,
                tokens_saved=200,
                usd_saved=Decimal("0.004"),
            )
            for _ in range(6)
        ]
    )
    policy = policy_refresh(user=user)
    assert policy.triggers == ["repetitive_queries"]
    assert policy.caching_enabled is True
    assert (policy.compression_level, policy.suggested_model) == ("none", "")
    # 6 repeats x the average request ($0.004)
    assert policy.figures["savings_usd"]["caching"] == "0.024000"


@pytest.mark.django_db
def test_quiet_user_gets_an_empty_policy(user, acme):
    post_usage(user, occurred_at=today_at(0), count=2)
    policy = policy_refresh(user=user)
    assert (policy.triggers, policy.compression_level, policy.suggested_model, policy.caching_enabled) == (
        [],
        "none",
        "",
        False,
    )


@pytest.mark.django_db
def test_policy_api(api, heavy_user):
    body = api.get("/api/v1/policy").json()
    assert body["user"] == "alice"
    assert body["model"] == {"current": "acme-large", "suggested": "acme-medium"}
    assert body["compression_level"] == "aggressive"
    assert body["estimated_savings_usd"] == "20.7"
    assert body["estimated_savings_window_days"] == 30
    assert body["pinned"] is False


@pytest.mark.django_db
def test_pinned_policy_survives_refresh(heavy_user, staff_user, client):
    policy = policy_refresh(user=heavy_user)
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:analytics_optimizationpolicy_change", args=[policy.pk]),
        {
            "compression_level": "light",
            "suggested_model": "acme-small",
            "caching_enabled": "on",
            "note": "CFO says",
        },
    )
    assert response.status_code == 302
    assert policies_refresh.apply().get() == 1
    policy.refresh_from_db()
    assert (policy.pinned, policy.pinned_by, policy.compression_level, policy.suggested_model) == (
        True,
        staff_user,
        "light",
        "acme-small",
    )
    client.post(
        reverse("admin:analytics_optimizationpolicy_changelist"),
        {"action": "unpin", "_selected_action": [policy.pk]},
    )
    policy.refresh_from_db()
    assert (policy.pinned, policy.compression_level, policy.suggested_model) == (
        False,
        "aggressive",
        "acme-medium",
    )


@pytest.mark.django_db
def test_refresh_all_covers_active_users(heavy_user, other_user):
    assert policies_refresh_all() == 1
    assert list(OptimizationPolicy.objects.values_list("user__username", flat=True)) == ["alice"]
