"""Abuse limits: login lockout (django-axes), a per-user API throttle, failed-key attempts per address."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters(settings):
    # A prefix of this test's own: counters in a shared Redis never meet another test's.
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"],
                                                      "KEY_PREFIX": f"abuse-{uuid.uuid4().hex[:8]}"}}
    yield
    cache.clear() if "LocMem" in settings.CACHES["default"]["BACKEND"] else None


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_after_five_wrong_passwords_even_the_right_one_is_locked_out(client, login_url):
    UserFactory(username="root", password="the-right-password-1", is_staff=True, is_superuser=True)
    for _ in range(5):
        wrong = client.post(login_url, {"username": "root", "password": "guess"})
        assert wrong.status_code in (200, 429)
    right = client.post(login_url, {"username": "root", "password": "the-right-password-1"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_limit_logs_in_and_resets_the_count(client):
    UserFactory(username="carol", password="carols-password-1")
    for _ in range(4):
        client.post("/accounts/login/", {"username": "carol", "password": "guess"})
    right = client.post("/accounts/login/", {"username": "carol", "password": "carols-password-1"})
    assert (right.status_code, right["Location"]) == (302, "/dashboard/")


def test_another_address_is_not_locked_out_by_a_strangers_guesses(client):
    UserFactory(username="dave", password="daves-password-1")
    for _ in range(6):
        client.post("/accounts/login/", {"username": "dave", "password": "guess"}, REMOTE_ADDR="203.0.113.9")
    right = client.post("/accounts/login/", {"username": "dave", "password": "daves-password-1"},
                        REMOTE_ADDR="198.51.100.7")
    assert right.status_code == 302


def test_the_api_throttles_a_user_past_the_rate_with_retry_after(api, settings):
    settings.NETRA_THROTTLE_USER = "3/minute"
    codes = [api.get("/api/v1/models").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    throttled = api.get("/api/v1/models")
    assert throttled.json()["error"]["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_guessing_api_keys_from_one_address_is_throttled(api, settings):
    settings.NETRA_AUTH_FAILURES_LIMIT = "3/minute"
    guesser = APIClient(REMOTE_ADDR="203.0.113.5")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer ntk_not-a-real-key")
    codes = [guesser.get("/api/v1/models").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert guesser.get("/api/v1/models").json()["error"]["message"].startswith("Too many failed API key attempts.")
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.2")
    elsewhere.credentials(HTTP_AUTHORIZATION="Bearer ntk_also-wrong")
    assert elsewhere.get("/api/v1/models").status_code == 401
    assert api.get("/api/v1/models", REMOTE_ADDR="198.51.100.2").status_code == 200
