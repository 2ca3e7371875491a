"""The /live/ page: server-rendered first paint and its JSON snapshot."""

from __future__ import annotations

import json
import re
import sys
import types
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import UsageRecordFactory
from tokens.live_selectors import live_day_bounds
from tokens.templatetags.live_format import percent, usd


@pytest.fixture
def usage(user, other_user):
    """alice: three calls today on two agents and one yesterday; bob: one call today."""
    start, _ = live_day_bounds()
    # Late in the day so "today" holds even when the test runs just after midnight.
    today = max(start + timedelta(minutes=1), timezone.now() - timedelta(minutes=5))
    UsageRecordFactory(user=user, request_id="a1", agent="triage", model="gpt-4o-mini", input_tokens=1200,
                       output_tokens=300, cost_usd=Decimal("0.000360"), occurred_at=today)
    UsageRecordFactory(user=user, request_id="a2", agent="data", input_tokens=900_000, output_tokens=100_000,
                       cost_usd=Decimal("3.25"), occurred_at=today + timedelta(seconds=1), cache_hit=True)
    UsageRecordFactory(user=user, request_id="a3", agent="data", input_tokens=1000, output_tokens=0,
                       cost_usd=Decimal("0.0025"), occurred_at=today + timedelta(seconds=2),
                       optimization_technique="prompt_compression", original_tokens=1500)
    UsageRecordFactory(user=user, request_id="a0", agent="triage", input_tokens=5000, output_tokens=0,
                       cost_usd=Decimal("1"), occurred_at=start - timedelta(hours=2))
    UsageRecordFactory(user=other_user, request_id="b1", agent="secret-agent", input_tokens=777,
                       output_tokens=0, cost_usd=Decimal("0.5"), occurred_at=today)


def page_config(response) -> dict:
    pattern = rb'<script id="live-config" type="application/json">(.*?)</script>'
    match = re.search(pattern, response.content, re.S)
    return json.loads(match.group(1))


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/live/")
    assert (response.status_code, response.url) == (302, "/accounts/login/?next=/live/")


@pytest.mark.django_db
def test_customer_first_paint_shows_only_their_own_day(client, user, usage):
    client.force_login(user)
    response = client.get("/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div class="value" id="total-cost">$3.25</div>' in html
    assert '<div class="value" id="total-tokens">1,002,500</div>' in html
    assert '<div class="value" id="total-calls">3</div>' in html
    assert "secret-agent" not in html and "bob" not in html
    config = page_config(response)
    assert config["ws_path"] == "/ws/usage/"
    assert config["scope_all"] is False
    assert config["totals"] == {"calls": 3, "tokens": 1_002_500, "cost_usd": "3.25286"}
    assert config["by_agent"] == [
        {"agent": "data", "calls": 2, "tokens": 1_001_000, "cost_usd": "3.2525"},
        {"agent": "triage", "calls": 1, "tokens": 1500, "cost_usd": "0.00036"},
    ]
    # The feed is the latest calls, yesterday's included, newest first.
    assert [r["request_id"] for r in config["latest"]] == ["a3", "a2", "a1", "a0"]
    assert (config["latest"][0]["optimization_applied"], config["latest"][1]["cache_hit"]) == (True, True)
    assert config["by_user"] == []
    assert config["budgets"] == []
    assert "No budget applies to you." in html


@pytest.mark.django_db
def test_customer_cannot_ask_for_everyone(client, user):
    client.force_login(user)
    assert client.get("/live/?scope=all").status_code == 403
    assert client.get("/live/snapshot/?scope=all").status_code == 403


@pytest.mark.django_db
def test_staff_watch_all_users_by_default(client, staff_user, usage):
    client.force_login(staff_user)
    response = client.get("/live/")
    config = page_config(response)
    assert config["ws_path"] == "/ws/usage/?scope=all"
    assert config["totals"] == {"calls": 4, "tokens": 1_003_277, "cost_usd": "3.75286"}
    assert config["by_user"] == [
        {"user": "alice", "calls": 3, "tokens": 1_002_500, "cost_usd": "3.25286"},
        {"user": "bob", "calls": 1, "tokens": 777, "cost_usd": "0.5"},
    ]
    assert '<table class="data" id="by-user">' in response.content.decode()
    mine = page_config(client.get("/live/?scope=mine"))
    assert (mine["ws_path"], mine["totals"]["calls"], mine["latest"]) == ("/ws/usage/", 0, [])


@pytest.mark.django_db
def test_snapshot_json_matches_the_first_paint(client, user, usage):
    client.force_login(user)
    snapshot = client.get("/live/snapshot/").json()
    config = page_config(client.get("/live/"))
    for key in ("totals", "by_agent", "latest", "budgets", "day_start", "day_end"):
        assert snapshot[key] == config[key]


@pytest.mark.django_db
def test_feed_holds_the_latest_50_calls(client, user):
    now = timezone.now()
    for i in range(55):
        UsageRecordFactory(user=user, request_id=f"r{i}", occurred_at=now - timedelta(seconds=60 - i))
    client.force_login(user)
    latest = client.get("/live/snapshot/").json()["latest"]
    assert [r["request_id"] for r in latest] == [f"r{i}" for i in range(54, 4, -1)]


@pytest.mark.django_db
def test_budget_gauges_come_from_the_budgets_app(client, user, monkeypatch):
    budget = {
        "id": 7, "scope": "user", "period": "day", "agent": "", "run_id": "", "limit_tokens": None,
        "limit_usd": Decimal("10"), "spent_tokens": 120_000, "spent_usd": Decimal("8.5"),
        "reserved_tokens": 0, "reserved_usd": Decimal("0"), "remaining_tokens": None,
        "remaining_usd": Decimal("1.5"), "percent_used": Decimal("85.0"), "enforcement": "hard",
        "window_start": timezone.now().replace(microsecond=0), "window_end": None, "status": "warning",
    }
    fake = types.ModuleType("budgets.selectors")
    fake.budgets_for_user = lambda *, user: [budget] if user.username == "alice" else []
    monkeypatch.setitem(sys.modules, "budgets.selectors", fake)
    client.force_login(user)
    response = client.get("/live/")
    html = response.content.decode()
    assert '<div class="gauge warn"><span style="width:85.0%"></span></div>' in html
    assert "$8.50 of $10.00" in html
    assert page_config(response)["budgets"][0]["spent_usd"] == "8.5"
    part = client.get("/live/snapshot/?part=budgets").json()
    assert part == {"budgets": [{**page_config(response)["budgets"][0]}]}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "$0.00"),
        (Decimal("0.00002"), "<$0.0001"),
        (Decimal("0.00036"), "$0.0004"),
        (Decimal("0.0025"), "$0.0025"),
        (Decimal("0.99999"), "$1.0000"),
        (Decimal("1"), "$1.00"),
        (Decimal("1234567.891"), "$1,234,567.89"),
        ("3.25286", "$3.25"),
        (None, "–"),
    ],
)
def test_money_formatting(value, text):
    assert usd(value) == text


def test_percent_formatting():
    assert (percent(Decimal("85")), percent("81.55"), percent(None)) == ("85.0%", "81.6%", "–")
