"""The dashboard in headless Chromium: the vendored Chart.js draws every chart, without errors."""

from __future__ import annotations

import pytest

from tests.analytics.conftest import post_usage, today_at

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_draws_charts(live_server, user, acme, settings):
    from playwright.sync_api import sync_playwright

    post_usage(user, occurred_at=today_at(0), count=3, tool="search", run_id="r1")
    post_usage(user, occurred_at=today_at(0, days_ago=2), model="acme-small", agent="planner")
    user.set_password("pw-for-tests-1")
    user.save()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
            page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/%3Fperiod%3D7d")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "pw-for-tests-1")
            page.click("button[type=submit], input[type=submit]")
            # The charts are drawn by dashboard.js after load: wait for them, not the canvas.
            page.wait_for_function(
                "() => window.Chart && ['chart-daily', 'chart-models', 'chart-tools']"
                ".every(id => Chart.getChart(id))",
                timeout=10_000,
            )
            drawn = page.evaluate(
                "() => ['chart-daily', 'chart-models', 'chart-tools']"
                ".map(id => Chart.getChart(id) ? Chart.getChart(id).data.datasets.length : 0)"
            )
            width = page.evaluate("() => document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert errors == []
    assert external == []  # no CDN
    assert drawn == [2, 1, 1]  # two agents stacked; one doughnut; one bar series
    assert width == 390  # nothing overflows at phone width
