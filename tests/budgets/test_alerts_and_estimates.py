"""Alerts fire once per threshold per window; output estimates follow recent usage."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from analytics.models import Alert
from budgets import selectors
from budgets.services import budget_check
from ingestion.services import usage_reprice
from tests.factories import UsageRecordFactory
from tokens.services import prices_import


@pytest.fixture
def sent(monkeypatch):
    """Capture webhook posts and live events instead of sending them."""
    calls = {"webhooks": [], "events": []}
    monkeypatch.setattr("analytics.delivery.webhook_post",
                        lambda url, secret, payload: calls["webhooks"].append((url, secret, payload)))
    monkeypatch.setattr("core.events.publish",
                        lambda user_id, kind, data: calls["events"].append((user_id, kind, data)))
    return calls


def test_each_threshold_alerts_once_per_window(user, make_budget, ingest, sent, django_capture_on_commit_callbacks):
    budget = make_budget(user=user, period="day", limit_tokens=1000, webhook_url="http://127.0.0.1:9/hook",
                         webhook_secret="s3cret")
    with django_capture_on_commit_callbacks(execute=True):
        ingest(user, prompt=400, completion=100)   # 50 %
        ingest(user, prompt=10, completion=0)      # 51 %: nothing new
        ingest(user, prompt=400, completion=0)     # 91 %: 80 and 90
        ingest(user, prompt=200, completion=0)     # 111 %: 100
        ingest(user, prompt=200, completion=0)     # 131 %: nothing new

    alerts = Alert.objects.filter(budget_id=budget.pk).order_by("threshold")
    assert [(a.threshold, a.percent_used) for a in alerts] == [
        (Decimal("50"), Decimal("50.00")), (Decimal("80"), Decimal("91.00")),
        (Decimal("90"), Decimal("91.00")), (Decimal("100"), Decimal("111.00")),
    ]
    start = selectors.budget_figures(budgets=[budget])[0]["window_start"]
    assert alerts[0].dedupe_key == f"budget:{budget.pk}:{start:%Y%m%dT%H%M}:50"
    assert alerts[3].severity == "critical"
    assert len(mail.outbox) == 4
    assert mail.outbox[0].to == ["alice@example.com"]
    assert [(url, secret, payload["threshold"]) for url, secret, payload in sent["webhooks"]] == [
        ("http://127.0.0.1:9/hook", "s3cret", "50"), ("http://127.0.0.1:9/hook", "s3cret", "80"),
        ("http://127.0.0.1:9/hook", "s3cret", "90"), ("http://127.0.0.1:9/hook", "s3cret", "100"),
    ]
    assert [(uid, kind, data["threshold"], data["percent_used"]) for uid, kind, data in sent["events"]] == [
        (user.pk, "budget_alert", "50", "50.00"), (user.pk, "budget_alert", "80", "91.00"),
        (user.pk, "budget_alert", "90", "91.00"), (user.pk, "budget_alert", "100", "111.00"),
    ]
    assert sent["events"][0][2]["budget"] == budget.pk


def test_a_new_window_alerts_again(user, make_budget, ingest, sent):
    budget = make_budget(user=user, period="day", limit_tokens=100, thresholds=[100])
    yesterday = timezone.now() - timedelta(days=1)
    ingest(user, prompt=100, completion=0, occurred_at=yesterday)
    ingest(user, prompt=100, completion=0)
    assert Alert.objects.filter(budget_id=budget.pk).count() == 2


def test_output_estimate_is_the_recent_p95_of_that_agent_and_model(user, catalog, make_budget):
    make_budget(user=user, limit_tokens=10**9)
    for n in range(1, 101):  # completions 10, 20, ..., 1000
        UsageRecordFactory(user=user, agent="triage", model="gpt-4o", output_tokens=n * 10)
    UsageRecordFactory(user=user, agent="other", model="gpt-4o", output_tokens=99_999)
    UsageRecordFactory(user=user, agent="triage", model="gpt-4o", output_tokens=99_999,
                       occurred_at=timezone.now() - timedelta(days=8))

    p95 = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10)
    capped = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10, max_output_tokens=300)

    assert p95.output_tokens == 950
    assert capped.output_tokens == 300


def test_without_history_the_default_is_used_capped_by_max_output(user, catalog):
    assert budget_check(user=user, agent="new", model="gpt-4o", input_tokens=10).output_tokens == 1024
    assert budget_check(user=user, agent="new", model="gpt-4o", input_tokens=10,
                        max_output_tokens=200).output_tokens == 200


def test_a_strict_budget_reserves_the_full_max_output(user, catalog, make_budget):
    make_budget(user=user, limit_tokens=10**9, strict=True)
    UsageRecordFactory(user=user, agent="triage", model="gpt-4o", output_tokens=10)
    assert budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10,
                        max_output_tokens=4000).output_tokens == 4000
    # With no max_output_tokens the model's own maximum is held.
    assert budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=10).output_tokens == 16384


def test_an_unpriced_model_has_no_cost_estimate(user, catalog):
    result = budget_check(user=user, agent="a", model="no-such-model", input_tokens=10, max_output_tokens=5)
    assert (result.output_tokens, result.cost_usd) == (5, None)


def test_repricing_adds_the_new_cost_to_the_budget(user, make_budget, ingest):

    budget = make_budget(user=user, limit_usd=Decimal("1"))
    ingest(user, prompt=1000, completion=0, model="brand-new-model")
    prices_import(data={"brand-new-model": {"litellm_provider": "openai", "input_cost_per_token": 1e-06,
                                            "output_cost_per_token": 2e-06}},
                  valid_from=datetime(2000, 1, 1, tzinfo=UTC))

    assert usage_reprice(models=["brand-new-model"]) == 1

    (item,) = selectors.budget_figures(budgets=[budget])
    assert (item["spent_tokens"], item["spent_usd"]) == (1000, Decimal("0.001"))
