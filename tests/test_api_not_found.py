"""Every 404 under /api/ is the JSON error shape; pages elsewhere keep Django's HTML 404."""

import pytest

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nonexistent"),
        ("get", "/api/v1/budgets/abc"),
        ("post", "/api/v1/budgets/reservations/not-a-uuid/release"),
        ("get", "/api/nonexistent"),
    ],
)
def test_unmatched_api_urls_are_a_json_404(api, settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_api_views_keep_their_own_404_message(api):
    response = api.get("/api/v1/budgets/999")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such budget.", "fields": {}}}


def test_pages_outside_the_api_keep_the_html_404(client, db):
    response = client.get("/nonexistent")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_missing_slash_is_still_redirected(client, db):
    response = client.get("/api/docs")
    assert (response.status_code, response["Location"]) == (301, "/api/docs/")
