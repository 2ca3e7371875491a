"""The Keys page in headless Chromium at 1440 and 390 px: create a key, see it once, revoke it."""

from __future__ import annotations

import pytest

from organizations.models import Membership, Organization, Project
from tests.analytics.test_dashboard_browser import CHROMIUM_ARGS
from tests.factories import UserFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_keys_page_creates_shows_once_and_revokes(live_server, width):
    from playwright.sync_api import sync_playwright

    user = UserFactory(username="alice")
    user.set_password("pw-for-tests-1")
    user.save()
    acme = Organization.objects.create(name="Acme", slug="acme")
    Membership.objects.create(organization=acme, user=user, role="owner")
    web = Project.objects.create(organization=acme, name="Web", slug="web")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
            page.goto(f"{live_server.url}/accounts/login/?next=/keys/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "pw-for-tests-1")
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_selector("#keys-table")
            assert page.inner_text("#keys-table tbody") == "No keys yet: create one below."
            page.fill("input[name=name]", "ci-runner")
            page.select_option("select[name=project]", str(web.pk))
            page.fill("input[name=rpm_limit]", "60")
            page.fill("input[name=tpm_limit]", "90000")
            page.click("text=Create key")
            raw = page.inner_text("[data-testid=raw-key]")
            row = page.locator("#keys-table tbody tr").first
            cells = row.inner_text()
            width_created = page.evaluate("() => document.documentElement.scrollWidth")
            page.goto(f"{live_server.url}/keys/")
            shown_again = page.locator("[data-testid=raw-key]").count()
            page.click("text=Revoke")
            page.wait_for_selector(".notice")
            notice = page.inner_text(".notice")
            status = page.inner_text("#keys-table tbody tr >> .pill")
            width_after = page.evaluate("() => document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert errors == [] and external == []
    assert raw.startswith("ntk_") and len(raw) == 47
    for text in ("ci-runner", raw[:12], "Acme / Web", "0 of 60", "0 of 90000", "active"):
        assert text in cells
    assert shown_again == 0
    assert notice == f"Revoked ci-runner ({raw[:12]}…)."
    assert status == "revoked"
    assert width_created == width and width_after == width  # nothing overflows, phone width included
