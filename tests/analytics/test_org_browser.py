"""The organization view's filters and the run page in headless Chromium, at desktop and phone widths."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.analytics.org_fixtures import acme_org, day_at, record
from tests.analytics.test_dashboard_browser import CHROMIUM_ARGS

SHOTS = os.environ.get("NETRA_SCREENSHOTS")  # a folder (outside the repo) to look at the pages


def _data():
    data = acme_org()
    org = data["org"]
    start = day_at(0, hour=1)
    for i in range(4):
        record(data["mia"], org, at=start + timedelta(seconds=i), run_id="mia-run-1", agent=f"step-{i}",
               cost=f"0.{i + 1}", latency_ms=100 * (i + 1), project=data["web"], tags=["prod"],
               cache_hit=i == 2, optimization_technique="compression" if i == 3 else "")
    record(data["adam"], org, cost="2", agent="writer", project=data["etl"], run_id="adam-run", latency_ms=900)
    record(data["adam"], org, days_ago=3, cost="1", agent="writer", model="gpt-4o-mini", tags=["dev"])
    return data


def _login(page, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit], input[type=submit]")


def _shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_org_filters_and_the_run_page(live_server, width):
    from playwright.sync_api import sync_playwright

    _data()
    base = live_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _login(page, base, "olga", "/dashboard/org/acme/%3Fperiod%3D7d")
            page.wait_for_function("() => window.Chart && Chart.getChart('chart-daily')", timeout=10_000)
            spend_all = page.inner_text(".tiles .tile:first-child .value")
            overflow_all = page.evaluate("() => document.documentElement.scrollWidth")
            _shot(page, f"org-{width}")
            # Filter with the form: member mia, project web, tag prod.
            page.select_option("select[name=user]", "mia")
            page.select_option("select[name=project]", "web")
            page.fill("input[name=tag]", "prod")
            page.click("#org-filters button[type=submit]")
            page.wait_for_load_state()
            url = page.url
            spend_mia = page.inner_text(".tiles .tile:first-child .value")
            latency = page.inner_text("#tile-latency .value")
            _shot(page, f"org-filtered-{width}")
            # A filter that is not the organization's: the 400 page, not a 500.
            bad = page.goto(f"{base}/dashboard/org/acme/?user=bob")
            bad_status, bad_text = bad.status, page.inner_text("main")
            # Back to the filtered view; the top run opens the run page.
            page.goto(url)
            page.click("#org-top-runs a:has-text('mia-run-1')")
            page.wait_for_selector("table.run-calls")
            run_url = page.url
            steps = page.eval_on_selector_all(
                "table.run-calls tbody tr td:nth-child(3)", "els => els.map(e => e.innerText)")
            flags = page.inner_text("table.run-calls tbody")
            overflow_run = page.evaluate("() => document.documentElement.scrollWidth")
            _shot(page, f"run-{width}")
        finally:
            browser.close()
    assert errors == []
    assert spend_all == "$4.00"  # mia 0.1+0.2+0.3+0.4, adam 2; adam's $1 three days ago is in the 7 days too
    assert "user=mia" in url and "project=web" in url and "tag=prod" in url
    assert spend_mia == "$1.00"
    assert latency == "200 / 400 ms"
    assert bad_status == 400 and "'bob' is not a member of Acme." in bad_text
    assert run_url.endswith("/runs/mia-run-1/?user=mia")
    assert steps == ["step-0", "step-1", "step-2", "step-3"]
    assert "cache hit" in flags and "compression" in flags
    assert overflow_all == width and overflow_run == width  # nothing spills sideways, phone included
