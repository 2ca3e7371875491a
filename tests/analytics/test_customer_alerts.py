"""Customers see and acknowledge their own alerts: the /alerts/ page and the API."""

from __future__ import annotations

import pytest

from analytics.models import Alert


def make_alert(user, key: str, severity: str = "warning") -> Alert:
    return Alert.objects.create(kind=Alert.KIND_USAGE_SPIKE, user=user, dedupe_key=key, severity=severity,
                                message=f"Spike {key}.")


@pytest.fixture
def alerts(user, other_user):
    return {"a1": make_alert(user, "a1"), "a2": make_alert(user, "a2", "critical"),
            "b1": make_alert(other_user, "b1"), "site": make_alert(None, "site")}


def test_the_page_lists_only_own_alerts_and_acknowledges(client, user, alerts):
    client.force_login(user)
    page = client.get("/alerts/").content.decode()
    assert "Spike a1." in page and "Spike a2." in page
    assert "Spike b1." not in page and "Spike site." not in page
    assert "2 open" in page
    response = client.post(f"/alerts/{alerts['a1'].pk}/acknowledge/", {"state": "open"})
    assert (response.status_code, response["Location"]) == (302, "/alerts/?state=open")
    alerts["a1"].refresh_from_db()
    assert alerts["a1"].acknowledged_by == user and alerts["a1"].acknowledged_at is not None
    open_page = client.get("/alerts/?state=open").content.decode()
    assert "Spike a1." not in open_page and "Spike a2." in open_page and "1 open" in open_page


def test_the_page_refuses_others_alerts_and_bad_parameters(client, user, alerts):
    client.force_login(user)
    assert client.post(f"/alerts/{alerts['b1'].pk}/acknowledge/").status_code == 404
    assert client.post(f"/alerts/{alerts['site'].pk}/acknowledge/").status_code == 404
    assert client.get(f"/alerts/{alerts['a1'].pk}/acknowledge/").status_code == 405
    alerts["b1"].refresh_from_db()
    assert alerts["b1"].acknowledged_at is None
    for query in ("state=unread", "page=9", "page=x"):
        assert client.get(f"/alerts/?{query}").status_code == 400


def test_api_lists_and_acknowledges_idempotently(api, other_api, alerts):
    body = api.get("/api/v1/alerts").json()
    assert [a["message"] for a in body["alerts"]] == ["Spike a2.", "Spike a1."]
    assert body["alerts"][0]["acknowledged_at"] is None
    url = f"/api/v1/alerts/{alerts['a2'].pk}/acknowledge"
    first = api.post(url, {}, format="json").json()
    assert first["acknowledged_by"] == "alice" and first["acknowledged_at"] is not None
    again = api.post(url, {}, format="json").json()
    assert again["acknowledged_at"] == first["acknowledged_at"]  # the first acknowledgement stands
    assert [a["message"] for a in api.get("/api/v1/alerts?state=open").json()["alerts"]] == ["Spike a1."]
    assert [a["message"] for a in api.get("/api/v1/alerts?state=acknowledged").json()["alerts"]] == ["Spike a2."]
    refused = other_api.post(f"/api/v1/alerts/{alerts['a1'].pk}/acknowledge", {}, format="json")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/alerts?state=new").status_code == 400
