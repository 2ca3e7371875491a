"""Alert delivery: Celery tasks queued after commit, retried with backoff, never able to fail ingestion."""

import urllib.error

import pytest
from django.core import mail
from django.db import transaction
from kombu.exceptions import OperationalError

from analytics.alerts import alert_raise
from analytics.delivery import alert_webhook_deliver
from analytics.models import Alert
from budgets.services import budget_create


class Retried(Exception):
    pass


@pytest.fixture
def failing_webhook(monkeypatch, settings):
    settings.NETRA_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    settings.NETRA_ALERT_WEBHOOK_SECRET = "s3cret"
    calls = []

    def post(url, secret, payload):
        calls.append(url)
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr("analytics.delivery.webhook_post", post)
    return calls


def _spike(user) -> Alert:
    return Alert.objects.create(kind=Alert.KIND_USAGE_SPIKE, dedupe_key="spike-1", message="spike", user=user)


@pytest.mark.django_db
def test_a_failed_webhook_is_retried_later_with_backoff(user, failing_webhook, monkeypatch):
    alert = _spike(user)
    retried = []

    def retry(*, exc, countdown):
        retried.append((type(exc), countdown))
        return Retried()

    monkeypatch.setattr(alert_webhook_deliver, "retry", retry)
    alert_webhook_deliver.push_request(is_eager=False, retries=3, called_directly=False)
    try:
        with pytest.raises(Retried):
            alert_webhook_deliver.run(alert.pk, "site")
    finally:
        alert_webhook_deliver.pop_request()
    (kind, countdown), = retried
    # Exponential with full jitter: at most 5 s x 2^3 on the 4th attempt.
    assert (kind, failing_webhook) == (urllib.error.URLError, ["http://127.0.0.1:9/hook"])
    assert 0 <= countdown <= 40
    assert alert_webhook_deliver.max_retries == 6


@pytest.mark.django_db
def test_in_the_embedded_default_a_failed_webhook_is_logged_not_raised(user, failing_webhook, caplog):
    alert = _spike(user)
    alert_webhook_deliver.apply(args=(alert.pk, "site"))  # eager, as in the embedded default
    assert failing_webhook == ["http://127.0.0.1:9/hook"]
    assert "no worker to retry it" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_an_alert_that_was_rolled_back(user, settings, monkeypatch):
    settings.NETRA_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    posted = []
    monkeypatch.setattr("analytics.delivery.webhook_post", lambda url, secret, payload: posted.append(url))
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            alert_raise(kind=Alert.KIND_USAGE_SPIKE, dedupe_key="rolled-back", message="spike", user=user)
            raise RuntimeError("the caller failed after raising the alert")
    assert (Alert.objects.count(), posted, len(mail.outbox)) == (0, [], 0)

    alert_raise(kind=Alert.KIND_USAGE_SPIKE, dedupe_key="kept", message="spike", user=user)
    assert (posted, [m.to for m in mail.outbox]) == (["http://127.0.0.1:9/hook"], [["alice@example.com"]])


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_is_down_never_fails_the_usage_post(api, user, failing_webhook):
    budget_create(by=None, user=user, scope="user", period="day", limit_tokens=100,
                  webhook_url="http://127.0.0.1:9/budget-hook")
    response = api.post("/api/v1/usage", {"request_id": "over", "model": "gpt-4o", "prompt_tokens": 150,
                                          "completion_tokens": 10}, format="json")
    assert response.status_code == 201
    assert failing_webhook == ["http://127.0.0.1:9/budget-hook"] * 4  # 50, 80, 90 and 100 % crossed at once


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_never_fails_the_usage_post(api, user, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("analytics.alerts.alert_email_deliver.delay", broker_down)
    budget_create(by=None, user=user, scope="user", period="day", limit_tokens=100)
    response = api.post("/api/v1/usage", {"request_id": "over", "model": "gpt-4o", "prompt_tokens": 150,
                                          "completion_tokens": 10}, format="json")
    assert response.status_code == 201
    assert Alert.objects.filter(user=user).count() == 4
    assert "Error 111 connecting" in caplog.text
