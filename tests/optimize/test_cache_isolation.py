"""Response cache: each customer's quota is their own, and a Redis outage degrades instead of failing."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import override_settings

from optimization.cache import cache_lookup, cache_store
from optimization.models import ResponseCacheEntry

pytestmark = pytest.mark.django_db

MODEL = "gpt-4o-mini"


def ask(n: int) -> list[dict]:
    return [{"role": "user", "content": f"question {n}"}]


@override_settings(NETRA_RESPONSE_CACHE_MAX_ENTRIES=3)
def test_one_customer_filling_their_quota_never_evicts_another_customers_entries(user, other_user, catalog):
    for n in range(3):
        cache_store(user=other_user, model=MODEL, messages=ask(n), response=f"bob {n}")
    for n in range(50):  # alice stores far past the quota
        cache_store(user=user, model=MODEL, messages=ask(100 + n), response=f"alice {n}")

    bobs = [cache_lookup(user=other_user, model=MODEL, messages=ask(n)).hit for n in range(3)]
    assert bobs == [True, True, True]
    assert ResponseCacheEntry.objects.filter(user=other_user).count() == 3
    # Alice keeps her three most recent entries.
    alices = [cache_lookup(user=user, model=MODEL, messages=ask(100 + n)).hit for n in (46, 47, 48, 49)]
    assert alices == [False, True, True, True]


@override_settings(NETRA_RESPONSE_CACHE_MAX_BYTES=2_000)
def test_the_byte_quota_is_per_customer_too(user, other_user, catalog):
    cache_store(user=other_user, model=MODEL, messages=ask(1), response="x" * 500)
    for n in range(10):
        cache_store(user=user, model=MODEL, messages=ask(10 + n), response="y" * 500)
    assert cache_lookup(user=other_user, model=MODEL, messages=ask(1)).hit is True
    assert ResponseCacheEntry.objects.filter(user=user).count() < 10


@pytest.fixture
def redis_cache_down(settings, private_redis):
    """The production cache settings, on a Redis of this test's own that is then stopped."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
        }
    }
    caches["default"].set("probe", 1)
    assert caches["default"].get("probe") == 1
    private_redis.stop()
    yield private_redis
    caches["default"].close()


def test_with_redis_down_lookups_miss_and_stores_are_skipped(api, redis_cache_down):
    stored = api.post("/api/v1/cache/store", {"model": MODEL, "messages": ask(1), "response": "hi"},
                      format="json")
    assert stored.status_code in (200, 201)
    assert stored.json()["stored"] is False
    assert ResponseCacheEntry.objects.count() == 0
    lookup = api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": ask(1)}, format="json")
    assert (lookup.status_code, lookup.json()["hit"]) == (200, False)
    stats = api.get("/api/v1/cache/stats")
    assert (stats.status_code, stats.json()["user"]["misses"]) == (200, 1)


def test_with_redis_down_metrics_and_pages_answer(client, staff_user, redis_cache_down):
    client.force_login(staff_user)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "websocket_token_events_total 0.0" in metrics.content.decode()
    for page in ("/dashboard/", "/live/", "/reports/"):
        assert client.get(page).status_code == 200, page
