"""GET, POST and DELETE /api/v1/keys: a customer's own keys, the raw key shown once, only its hash stored."""

from __future__ import annotations

import hashlib

import pytest

from tests.organizations.conftest import client_of
from tokens.models import ApiKey


def test_create_shows_the_raw_key_once_and_stores_only_its_hash(world):
    dave = client_of(world.dave)
    response = dave.post("/api/v1/keys", {"name": "ci", "project": world.web.pk, "rpm_limit": 30,
                                          "tpm_limit": 40000}, format="json")
    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    key = ApiKey.objects.get(pk=body["id"])
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {getattr(key, f.attname) for f in ApiKey._meta.concrete_fields}
    assert {k: body[k] for k in ("name", "prefix", "user", "project", "rpm_limit", "tpm_limit", "revoked_at")} == {
        "name": "ci", "prefix": raw[:12], "user": "dave", "project": world.web.pk, "rpm_limit": 30,
        "tpm_limit": 40000, "revoked_at": None}
    listed = dave.get("/api/v1/keys").json()["keys"]
    assert [k["name"] for k in listed] == ["ci", "tests"]
    assert all("key" not in k for k in listed)
    new = client_of(world.dave)
    new.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert new.get("/api/v1/keys").status_code == 200


def test_delete_revokes_at_once(world):
    dave = client_of(world.dave)
    created = dave.post("/api/v1/keys", {"name": "temp"}, format="json").json()
    other = client_of(world.dave)
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    response = dave.delete(f"/api/v1/keys/{created['id']}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert other.get("/api/v1/keys").status_code == 401


def test_nobody_sees_or_revokes_anothers_key_but_their_organizations_managers(world):
    dave = client_of(world.dave)
    created = dave.post("/api/v1/keys", {"name": "web-bot", "project": world.web.pk}, format="json").json()
    bob = client_of(world.bob)
    assert "web-bot" not in [k["name"] for k in bob.get("/api/v1/keys").json()["keys"]]
    assert bob.delete(f"/api/v1/keys/{created['id']}").status_code == 404
    assert bob.get(f"/api/v1/keys/{created['id']}").status_code == 404
    alice = client_of(world.alice)  # Acme's owner sees and may revoke the keys of Acme's projects
    assert "web-bot" in [k["name"] for k in alice.get("/api/v1/keys").json()["keys"]]
    assert alice.patch(f"/api/v1/keys/{created['id']}", {"rpm_limit": 5}, format="json").json()["rpm_limit"] == 5
    assert alice.delete(f"/api/v1/keys/{created['id']}").status_code == 200


def test_a_key_goes_only_in_a_project_of_ones_own_organization(world):
    response = client_of(world.bob).post("/api/v1/keys", {"name": "x", "project": world.web.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["fields"] == {"project": ["Not a project of your organization."]}
    response = client_of(world.bob).post("/api/v1/keys", {"name": "x", "project": 999999}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"project": ["No such project."]}


@pytest.mark.parametrize("body, field", [
    ({"name": "a\x00b"}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "ok", "rpm_limit": -1}, "rpm_limit"),
    ({"name": "ok", "tpm_limit": "many"}, "tpm_limit"),
    ({"name": "ok", "project": "web"}, "project"),
    ({}, "name"),
])
def test_bad_key_input_is_a_400_naming_the_field(world, body, field):
    response = client_of(world.dave).post("/api/v1/keys", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
