"""The /live/ page: server-rendered first paint and its JSON snapshot."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from budgets.services import budget_create
from live.selectors import live_day_bounds
from live.templatetags.live_format import percent, usd
from tests.factories import UsageRecordFactory


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
    monkeypatch.setattr("analytics.selectors.budgets_for_user",
                        lambda *, user: [budget] if user.username == "alice" else [])
    client.force_login(user)
    response = client.get("/live/")
    html = response.content.decode()
    assert '<div class="gauge warn"><span style="width:85.0%"></span></div>' in html
    assert "$8.50 of $10.00" in html
    assert page_config(response)["budgets"][0]["spent_usd"] == "8.5"
    part = client.get("/live/snapshot/?part=budgets").json()
    assert part == {"budgets": [{**page_config(response)["budgets"][0]}],
                    "budget_tile": page_config(response)["budget_tile"]}
    assert part["budget_tile"] == {"id": 7, "label": "All your usage", "period": "day", "unit": "usd",
                                   "left": "1.5", "over": None, "percent_left": "15", "level": "warn"}


def tile_html(response) -> str:
    html = response.content.decode()
    start = html.index('<div class="tile budget-tile')
    return re.sub(r"\s+", " ", html[start:html.index("</div></div>", start) + 12])


@pytest.mark.django_db
def test_first_paint_shows_the_tightest_of_alices_budgets_with_human_labels(client, user, usage):

    # Today alice spent $3.25286; agent data used 1,001,000 tokens, 1,007,500 in all since yesterday.
    budget_create(by=None, scope="user", user=user, period="month", limit_usd=Decimal("12"))  # 27.1 % left
    tight = budget_create(by=None, scope="user_agent", user=user, agent="data", period="day",
                          limit_tokens=1_100_000)  # 99,000 left: 9.0 %
    budget_create(by=None, scope="user", user=user, period="lifetime", limit_tokens=10_000_000)  # 89.9 %
    client.force_login(user)

    response = client.get("/live/")

    assert tile_html(response) == (
        '<div class="tile budget-tile warn" id="budget-tile"><div class="label">Tightest budget left</div> '
        '<div class="value" id="budget-left">99,000 tok</div> '
        '<div class="sub" id="budget-left-note">Agent data · 9.0% left</div></div>'
    )
    config = page_config(response)
    assert config["budget_tile"] == {"id": tight.pk, "label": "Agent data", "period": "day", "unit": "tokens",
                                     "left": 99_000, "over": None, "percent_left": "9", "level": "warn"}
    assert [b["label"] for b in config["budgets"]] == ["All your usage", "Agent data", "All your usage"]
    gauges = response.content.decode().split('<div id="budgets" class="budgets">')[1].split("</section>")[0]
    assert re.findall(r"<strong>([^<]*)</strong>", gauges) == ["All your usage", "Agent data", "All your usage"]


@pytest.mark.django_db
def test_a_budget_past_its_limit_shows_nothing_left_and_how_far_over(client, user, usage):

    budget_create(by=None, scope="user", user=user, period="month", limit_usd=Decimal("12"))
    over = budget_create(by=None, scope="user_agent", user=user, agent="data", period="day",
                         limit_usd=Decimal("1"), limit_tokens=5_000_000)  # $3.2525 spent: $2.2525 over
    client.force_login(user)

    response = client.get("/live/")

    assert tile_html(response) == (
        '<div class="tile budget-tile bad" id="budget-tile"><div class="label">Tightest budget left</div> '
        '<div class="value" id="budget-left">$0.00</div> '
        '<div class="sub" id="budget-left-note">Agent data · over by $2.25</div></div>'
    )
    assert page_config(response)["budget_tile"] == {
        "id": over.pk, "label": "Agent data", "period": "day", "unit": "usd", "left": "0", "over": "2.2525",
        "percent_left": "0", "level": "bad",
    }
    assert client.get("/live/snapshot/?part=budgets").json()["budget_tile"] == page_config(response)["budget_tile"]


@pytest.mark.django_db
def test_without_budgets_the_tile_says_so(client, user, usage):
    client.force_login(user)
    response = client.get("/live/")
    assert '<div class="value" id="budget-left">–</div>' in tile_html(response)
    assert '<div class="sub" id="budget-left-note">No budget applies</div>' in tile_html(response)
    assert page_config(response)["budget_tile"] is None


@pytest.mark.django_db
def test_feed_shows_the_date_of_calls_from_another_day(client, user, usage):
    client.force_login(user)
    html = client.get("/live/").content.decode()
    times = re.findall(r'<td class="time">(.*?)</td>', html)
    yesterday = timezone.localtime(live_day_bounds()[0] - timedelta(hours=2))
    assert len(times) == 4
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in times[:3])
    assert times[3] == f'<span class="day">{yesterday.day} {yesterday:%b}</span> 22:00:00'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "$0.00"),
        (Decimal("0.00002"), "<$0.0001"),
        (Decimal("0.00036"), "$0.0004"),
        (Decimal("0.0025"), "$0.0025"),
        (Decimal("0.99999"), "$1.00"),  # rounds to a dollar: shown in cents (docs/analytics.md, "Money")
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


@pytest.mark.django_db
def test_the_page_costs_a_bounded_number_of_queries(client, user, staff_user, usage,
                                                    django_assert_max_num_queries):
    # session, user, totals, per agent, latest calls (5 today), and room for the budgets app's few
    client.force_login(user)
    with django_assert_max_num_queries(8):
        assert client.get("/live/").status_code == 200
    client.force_login(staff_user)  # the same plus per user
    with django_assert_max_num_queries(9):
        assert client.get("/live/").status_code == 200
