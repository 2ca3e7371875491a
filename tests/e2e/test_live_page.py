"""The live page in a real browser: totals move within 2 s, and only for their owner."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from budgets.services import budget_create
from live.selectors import live_day_bounds
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, daphne_server
from tests.factories import UsageRecordFactory
from tokens.services import api_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory


def post_usage(base_url: str, raw_key: str, record: dict) -> dict:
    request = urllib.request.Request(
        base_url + "/api/v1/usage", data=json.dumps(record).encode(), method="POST",
        headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def open_live_page(browser, base_url: str, username: str, *, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next=/live/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/live/")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=5000)
    return page


def test_live_totals_move_for_their_owner_only(tmp_path, catalog, user, other_user, staff_user):
    _, alice_key = api_key_create(user=user, name="e2e")
    _, bob_key = api_key_create(user=other_user, name="e2e")
    UsageRecordFactory(user=other_user, request_id="bob-earlier", agent="bob-agent", input_tokens=777,
                       output_tokens=0, cost_usd=Decimal("0.5"),
                       occurred_at=timezone.now() - timedelta(seconds=30))

    with daphne_server(tmp_path) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice = open_live_page(browser, server.url, "alice")
        bob = open_live_page(browser, server.url, "bob", width=390)  # phone width
        staff = open_live_page(browser, server.url, "root")
        expect(alice.locator("#total-tokens")).to_have_text("0")
        expect(bob.locator("#total-tokens")).to_have_text("777")
        expect(bob.locator("#total-cost")).to_have_text("$0.5000")

        post_usage(server.url, alice_key, {
            "request_id": "alice-1", "model": "gpt-4o", "agent": "triage",
            "usage": {"prompt_tokens": 1200, "completion_tokens": 80,
                      "prompt_tokens_details": {"cached_tokens": 1024}},
        })
        expect(alice.locator("#total-tokens")).to_have_text("1,280", timeout=2000)
        expect(alice.locator("#total-cost")).to_have_text("$0.0025", timeout=2000)
        expect(alice.locator("#total-calls")).to_have_text("1", timeout=2000)
        expect(alice.locator("#feed tbody tr").first).to_contain_text("triage")
        expect(alice.locator("#by-agent tbody tr")).to_have_count(1)

        # Bob's page moves for bob's call only: had alice's event leaked to him, it would
        # have arrived first and his total could never read 1,277.
        post_usage(server.url, bob_key, {"request_id": "bob-1", "model": "gpt-4o", "agent": "bob-agent",
                                         "prompt_tokens": 400, "completion_tokens": 100})
        expect(bob.locator("#total-tokens")).to_have_text("1,277", timeout=2000)
        expect(bob.locator("#total-calls")).to_have_text("2")
        expect(bob.locator("#feed tbody tr")).to_have_count(2)
        expect(bob.locator("#feed")).not_to_contain_text("triage")
        expect(alice.locator("#total-tokens")).to_have_text("1,280")

        # Staff watch everyone.
        expect(staff.locator("#total-tokens")).to_have_text("2,557", timeout=2000)
        expect(staff.locator("#by-user tbody tr")).to_have_count(2)

        # A dropped server shows as disconnected; the page reconnects by itself and catches up.
        server.stop()
        expect(alice.locator("#live-status")).to_contain_text("Disconnected", timeout=5000)
        post_usage_later = {"request_id": "alice-2", "model": "gpt-4o", "agent": "data",
                            "prompt_tokens": 1000, "completion_tokens": 0}
        server.start()
        post_usage(server.url, alice_key, post_usage_later)  # while the page is still away
        expect(alice.locator("#live-status")).to_have_text("Live", timeout=20000)
        expect(alice.locator("#total-tokens")).to_have_text("2,280", timeout=2000)
        post_usage(server.url, alice_key, {**post_usage_later, "request_id": "alice-3"})
        expect(alice.locator("#total-tokens")).to_have_text("3,280", timeout=2000)
        expect(alice.locator("#by-agent tbody tr")).to_have_count(2)
        browser.close()


def test_a_signed_out_page_stops_retrying(tmp_path, user):
    with daphne_server(tmp_path) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_live_page(browser, server.url, "alice")
        page.context.clear_cookies()
        server.restart()  # drops the socket; the reconnect has no session any more
        status = page.locator("#live-status")
        expect(status).to_have_text("Signed out: sign in again to resume", timeout=20000)
        browser.close()


def test_budget_tile_stays_on_the_tightest_budget_and_old_calls_show_their_date(tmp_path, catalog, user):

    _, alice_key = api_key_create(user=user, name="e2e")
    yesterday = live_day_bounds()[0] - timedelta(hours=2)
    UsageRecordFactory(user=user, request_id="old", agent="triage", input_tokens=10, output_tokens=0,
                       cost_usd=Decimal("0.01"), occurred_at=yesterday)
    UsageRecordFactory(user=user, request_id="data-0", agent="data", input_tokens=2000, output_tokens=0,
                       cost_usd=Decimal("0.005"), occurred_at=timezone.now() - timedelta(seconds=30))
    budget_create(by=None, scope="user", user=user, period="month", limit_usd=Decimal("1000"))
    budget_create(by=None, scope="user_agent", user=user, agent="data", period="day", limit_tokens=10_000)
    old_time = timezone.localtime(yesterday)

    with daphne_server(tmp_path) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_live_page(browser, server.url, "alice")
        tile, note = page.locator("#budget-left"), page.locator("#budget-left-note")
        expect(tile).to_have_text("8,000 tok")
        expect(note).to_have_text("Agent data · 80.0% left")
        expect(page.locator("#budgets strong")).to_have_text(["All your usage", "Agent data"])
        expect(page.locator("#feed td.time").last).to_have_text(f"{old_time.day} {old_time:%b} {old_time:%H:%M:%S}")

        # The data budget goes 1,000 tokens over: the tile says so without a negative figure.
        post_usage(server.url, alice_key, {"request_id": "data-1", "model": "gpt-4o", "agent": "data",
                                           "prompt_tokens": 9000, "completion_tokens": 0})
        expect(tile).to_have_text("0 tok", timeout=5000)
        expect(note).to_have_text("Agent data · over by 1,000 tok")
        expect(page.locator("#budget-tile")).to_have_class("tile budget-tile bad")

        # A triage call touches only the roomy user budget; the tile stays on the tightest one.
        with page.expect_response(lambda r: "part=budgets" in r.url, timeout=5000):
            post_usage(server.url, alice_key, {"request_id": "triage-1", "model": "gpt-4o", "agent": "triage",
                                               "prompt_tokens": 100, "completion_tokens": 10})
        expect(page.locator("#feed tbody tr").first).to_contain_text("triage")
        expect(tile).to_have_text("0 tok")
        expect(note).to_have_text("Agent data · over by 1,000 tok")
        # Rows repainted by the browser keep the time only for today and the date for yesterday.
        expect(page.locator("#feed td.time").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        expect(page.locator("#feed td.time").last).to_have_text(f"{old_time.day} {old_time:%b} {old_time:%H:%M:%S}")
        browser.close()
