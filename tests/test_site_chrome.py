"""What every page shares: the icon (no 404 for /favicon.ico) and the navigation."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders


def test_favicon_ico_points_at_the_shipped_icon(client):
    response = client.get("/favicon.ico")

    assert (response.status_code, response["Location"]) == (302, "/static/favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
    assert finders.find("favicon.svg")


@pytest.mark.django_db
def test_pages_link_the_icon_and_signed_in_users_get_the_api_docs_link(client, user):
    login = client.get("/accounts/login/").content.decode()
    client.force_login(user)
    dashboard = client.get("/dashboard/").content.decode()

    for html in (login, dashboard):
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
        assert '<link rel="icon" href="/static/favicon.ico" sizes="16x16 32x32">' in html
    assert '<a href="/api/docs/">API docs</a>' in dashboard
    assert "API docs" not in login
    assert client.get("/api/docs/").status_code == 200
