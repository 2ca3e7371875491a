"""GET /metrics: Prometheus text for staff or the metrics token, with bounded labels."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from analytics.models import Alert
from core.events import SENT_COUNTER_KEY
from tests.analytics.conftest import post_usage, today_at
from tests.factories import UserFactory


def _samples(response) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.mark.django_db
def test_metrics_are_protected(client, user, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    client.force_login(user)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


@pytest.mark.django_db
def test_no_token_configured_means_staff_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_metric_values(client, staff_user, user, acme):
    cache.set(SENT_COUNTER_KEY, 42, timeout=None)
    post_usage(user, occurred_at=today_at(0), count=3, model="acme-large")
    post_usage(
        user,
        occurred_at=today_at(0),
        count=1,
        model="acme-small",
        cache_hit=True,
        optimization={"technique": "compress", "original_tokens": 1250},
    )
    Alert.objects.create(kind=Alert.KIND_BUDGET_THRESHOLD, dedupe_key="b:1:100", message="m", threshold=100)
    Alert.objects.create(kind=Alert.KIND_BUDGET_THRESHOLD, dedupe_key="b:1:90", message="m", threshold=90)
    client.force_login(staff_user)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    s = _samples(response)
    assert s[("token_usage_per_user", (("user", "alice"),))] == 4400
    assert s[("token_cost_per_request", (("model", "acme-large"),))] == pytest.approx(0.013)
    assert s[("model_selection_distribution", (("model", "acme-large"),))] == 0.75
    assert s[("cache_hit_rate", ())] == 0.25
    assert s[("prompt_compression_ratio", (("source", "usage_records"),))] == 0.8
    assert s[("budget_exceeded_events_total", ())] == 1
    assert s[("websocket_token_events_total", ())] == 42
    assert s[("optimization_trigger_rate", (("trigger", "high_cost"),))] == 0


@pytest.mark.django_db
def test_user_label_is_bounded(client, staff_user, acme):
    for i in range(23):
        post_usage(UserFactory(username=f"u{i:02d}"), occurred_at=today_at(0), prompt=100 + i, completion=0)
    client.force_login(staff_user)
    s = _samples(client.get("/metrics"))
    users = [labels for name, labels in s if name == "token_usage_per_user"]
    assert len(users) == 21
    assert s[("token_usage_per_user", (("user", "other"),))] == 100 + 101 + 102
