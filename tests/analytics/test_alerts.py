"""Alert rules: each condition alerts once per window, with its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from analytics.models import Alert
from analytics.rules import alerts_evaluate, rule_daily_spike, rule_hourly_spike
from analytics.tasks import alerts_evaluate as alerts_task
from budgets.services import budget_create
from core import events
from tests.analytics.conftest import post_usage


def _now() -> datetime:
    return datetime.now(UTC)


def _at(days_ago: int, hour: int = 0) -> datetime:
    return (_now() - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.mark.django_db
def test_daily_usage_spike_alerts_once(user, acme, settings, django_capture_on_commit_callbacks):
    settings.NETRA_SPIKE_MIN_TOKENS = 1000
    for days_ago in range(1, 8):
        post_usage(user, occurred_at=_at(days_ago), prompt=1000, completion=0)
    post_usage(user, occurred_at=_at(0), prompt=3001, completion=0)
    with django_capture_on_commit_callbacks(execute=True):
        raised = rule_daily_spike(now=_now())
    assert [(a.kind, a.figures["window"], a.figures["tokens"], a.figures["factor"]) for a in raised] == [
        ("usage_spike", "day", 3001, "3.00")
    ]
    assert raised[0].message.startswith("Usage spike: 3,001 tokens today, 3.0x the 7-day daily average of 1,000")
    assert mail.outbox[0].to == ["alice@example.com"]
    assert rule_daily_spike(now=_now()) == []  # same condition, same window: no second alert
    assert Alert.objects.count() == 1


@pytest.mark.django_db
def test_no_spike_at_three_times_or_less(user, acme, settings):
    settings.NETRA_SPIKE_MIN_TOKENS = 1000
    for days_ago in range(1, 8):
        post_usage(user, occurred_at=_at(days_ago), prompt=1000, completion=0)
    post_usage(user, occurred_at=_at(0), prompt=3000, completion=0)
    assert alerts_evaluate(now=_now()) == []


@pytest.mark.django_db
def test_hourly_spike_compares_the_same_hour(user, acme, settings):
    settings.NETRA_SPIKE_MIN_TOKENS = 100
    now = _now()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    # The same hour yesterday was quiet; a busy other hour does not count.
    post_usage(user, occurred_at=hour - timedelta(days=1) + timedelta(minutes=30), prompt=700, completion=0)
    post_usage(user, occurred_at=hour - timedelta(days=1, hours=3), prompt=90_000, completion=0)
    post_usage(user, occurred_at=hour + timedelta(minutes=10), prompt=400, completion=0)

    raised = rule_hourly_spike(now=now)
    assert [(a.figures["tokens"], a.figures["baseline_tokens"], a.dedupe_key) for a in raised] == [
        (400, "100.00", f"spike:hour:{user.pk}:{hour:%Y%m%dT%H}")
    ]
    assert rule_hourly_spike(now=now) == []


@pytest.mark.django_db
def test_low_cache_hit_rate_and_optimization_failures(user, acme, settings):
    settings.NETRA_ALERT_MIN_REQUESTS = 10
    settings.NETRA_ALERT_MIN_OPTIMIZED = 10
    post_usage(user, occurred_at=_at(0), count=9)
    post_usage(
        user,
        occurred_at=_at(0),
        count=1,
        cache_hit=True,
        optimization={"technique": "compress", "original_tokens": 1000},
    )  # saved nothing: a failure
    post_usage(user, occurred_at=_at(0), count=9, optimization={"technique": "compress", "original_tokens": 2000})
    raised = {a.kind: a for a in alerts_task.apply().get() and Alert.objects.all()}
    assert set(raised) == {"low_cache_hit_rate", "optimization_failures"}
    assert raised["low_cache_hit_rate"].figures == {
        "window": "day",
        "requests": 19,
        "cache_hits": 1,
        "hit_rate": "0.0526",
    }
    assert raised["optimization_failures"].figures == {
        "window": "day",
        "optimized_requests": 10,
        "failures": 1,
        "failure_rate": "0.1000",
    }
    assert alerts_evaluate(now=_now()) == []


@pytest.mark.django_db
def test_budget_above_90_percent(user, staff_user, acme):
    post_usage(user, occurred_at=_at(0))  # $0.013: 1000 x $10/1M + 100 x $30/1M
    # No thresholds of their own, so only the 90% rule alerts; created after the usage (backfilled).
    high = budget_create(by=staff_user, user=user, period="day", timezone="UTC", limit_usd=Decimal("0.0142"),
                         thresholds=[])
    budget_create(by=staff_user, user=user, period="day", timezone="UTC", limit_usd=Decimal("0.026"), thresholds=[])
    window = _at(0)
    now = _now()
    raised = alerts_evaluate(now=now)
    assert [(a.kind, a.budget_id, a.threshold, a.percent_used, a.dedupe_key) for a in raised] == [
        ("budget_threshold", high.pk, Decimal(90), Decimal("91.55"), f"budget:{high.pk}:{window:%Y%m%dT%H%M}:90")
    ]
    forecast = raised[0].figures["forecast"]
    assert forecast["basis"]["spent_usd"] == "0.013"
    assert forecast["basis"]["start"] == window.isoformat()
    assert forecast["basis"]["end"] == now.isoformat()
    hours = max(Decimal((now - window).total_seconds()) / 3600, Decimal(1))
    assert forecast["basis"]["usd_per_hour"] == str((Decimal("0.013") / hours).quantize(Decimal("1e-12")).normalize())
    assert raised[0].message.startswith(f"Budget {high.pk} (user, day) is at 91.6% of its limit. Forecast at ")
    assert "by the window's end; " in raised[0].message
    assert alerts_evaluate(now=_now()) == []


@pytest.mark.django_db
def test_alert_goes_out_as_a_live_event(user, acme, settings, monkeypatch, django_capture_on_commit_callbacks):

    sent = []
    monkeypatch.setattr(
        events, "publish_many",
        lambda batch: sent.extend((uid, {"type": kind, "data": data}) for uid, kind, data in batch),
    )
    settings.NETRA_ALERT_MIN_REQUESTS = 10
    post_usage(user, occurred_at=_at(0), count=10)
    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate(now=_now())
    alerts = [m for uid, m in sent if m["type"] == "budget_alert"]
    assert [(a["data"]["kind"], a["data"]["hit_rate"], a["data"]["requests"]) for a in alerts] == [
        ("low_cache_hit_rate", "0.0000", "10")
    ]
