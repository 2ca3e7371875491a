"""Admin pages for templates, preferences, savings and cache entries render for staff."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tokens/prompttemplate/",
        "/admin/tokens/userpreference/",
        "/admin/tokens/savingsrecord/",
        "/admin/tokens/responsecacheentry/",
    ],
)
def test_admin_changelists_render(client, staff_user, catalog, path):
    client.force_login(staff_user)
    res = client.get(path)
    assert res.status_code == 200


def test_template_admin_shows_counts_and_savings(client, staff_user, catalog):
    from tokens.models import PromptTemplate

    client.force_login(staff_user)
    triage = PromptTemplate.objects.get(name="triage")
    body = client.get("/admin/tokens/prompttemplate/").content.decode()
    assert f"{triage.tokens_saved:,} tok ({triage.savings_percent}%)" in body
    change = client.get(f"/admin/tokens/prompttemplate/{triage.pk}/change/")
    assert change.status_code == 200
