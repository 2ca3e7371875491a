"""Every page in a real browser: nothing it asks for is missing (the icon included)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory


def test_pages_load_without_missing_files_and_link_the_api_docs(tmp_path, catalog, staff_user):
    with daphne_server(tmp_path) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        failed = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{server.url}/accounts/login/?next=/dashboard/")
        page.fill("input[name=username]", "root")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/dashboard/")
        for path in ("/live/", "/reports/", "/admin/", "/admin/budgets/budget/add/"):
            page.goto(server.url + path, wait_until="networkidle")
        # Browsers fetch /favicon.ico themselves only now and then; ask as they would.
        icon = page.request.get(f"{server.url}/favicon.ico")
        assert (icon.status, icon.headers["content-type"], icon.body()[:4]) == (
            200, "image/x-icon", b"\x00\x00\x01\x00")

        page.goto(f"{server.url}/dashboard/")
        page.click("text=API docs")
        page.wait_for_url(f"{server.url}/api/docs/")
        expect(page.locator(".swagger-ui .title")).to_contain_text("Netra Token Control API", timeout=10000)
        assert failed == []
        browser.close()
