"""Admin pages for templates, preferences, savings and cache entries render for staff."""

from __future__ import annotations

import pytest

from optimization.models import PromptTemplate


@pytest.mark.parametrize(
    "path",
    [
        "/admin/optimization/prompttemplate/",
        "/admin/optimization/userpreference/",
        "/admin/optimization/savingsrecord/",
        "/admin/optimization/responsecacheentry/",
    ],
)
def test_admin_changelists_render(client, staff_user, catalog, path):
    client.force_login(staff_user)
    res = client.get(path)
    assert res.status_code == 200


def test_template_admin_shows_counts_and_savings(client, staff_user, catalog):

    client.force_login(staff_user)
    triage = PromptTemplate.objects.get(name="triage")
    body = client.get("/admin/optimization/prompttemplate/").content.decode()
    assert f"{triage.tokens_saved:,} tok ({triage.savings_percent}%)" in body
    change = client.get(f"/admin/optimization/prompttemplate/{triage.pk}/change/")
    assert change.status_code == 200


def test_old_admin_links_of_the_moved_models_redirect(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/admin/tokens/prompttemplate/3/change/?_changelist_filters=x")
    assert (response.status_code, response["Location"]) == (
        301, "/admin/optimization/prompttemplate/3/change/?_changelist_filters=x"
    )
