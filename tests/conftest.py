"""Shared fixtures. Under CI with DATABASE_URL/REDIS_URL set, unreachable
services fail the run loudly: nothing here skips."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from budgets import ratelimits
from tests.factories import UserFactory
from tests.private_redis import PrivateRedis
from tokens.models import ModelPrice
from tokens.pricing import catalog as price_catalog
from tokens.services import api_key_create, prices_import


def pytest_sessionstart(session):
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
        except Exception as exc:  # fail loudly, never skip
            raise pytest.UsageError(f"REDIS_URL is set but Redis is unreachable: {exc}") from exc


on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.fixture(autouse=True)
def _own_rate_limit_counters(settings):
    """Rate-limit counters are keyed by key, user and project ids, which tests reuse: each test counts
    under a prefix of its own (in Redis) and from zero (in process)."""
    settings.NETRA_RATELIMIT_PREFIX = f"netra:rl:test:{uuid.uuid4().hex}:"
    ratelimits._local.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_catalog_cache():
    """The catalog is cached per process; every test starts from the database."""
    price_catalog.invalidate()
    yield
    price_catalog.invalidate()


@pytest.fixture
def catalog(db):
    """The shipped default price catalog."""
    import json
    from decimal import Decimal
    from pathlib import Path


    if not ModelPrice.objects.exists():
        path = Path(settings.BASE_DIR) / "tokens" / "data" / "default_catalog.json"
        prices_import(data=json.loads(path.read_text(), parse_float=Decimal), source="default_catalog.json")
    return price_catalog


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _client_for(user, *, service: bool = False) -> APIClient:
    _, raw = api_key_create(user=user, name="tests", is_service=service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_key = raw
    return client


@pytest.fixture
def api(user, catalog) -> APIClient:
    """An API client authenticated with alice's user key."""
    return _client_for(user)


@pytest.fixture
def other_api(other_user, catalog) -> APIClient:
    return _client_for(other_user)


@pytest.fixture
def service_api(db, catalog) -> APIClient:
    svc = UserFactory(username="svc-orchestrator")
    return _client_for(svc, service=True)


@pytest.fixture
def make_client():
    return _client_for


@pytest.fixture
def private_redis():
    """A Redis server of this test's own (tests.private_redis): stop and restart it at will."""
    server = PrivateRedis().start()
    yield server
    server.stop()
