"""Organizations, members and projects over the API: each sees only their own; owners and admins manage."""

from __future__ import annotations

import pytest

from organizations.models import Membership, Organization
from tests.factories import UserFactory
from tests.organizations.conftest import client_of


def test_everyone_lists_only_their_own_organizations_with_their_role(world):
    body = client_of(world.dave).get("/api/v1/organizations").json()
    assert [(o["name"], o["slug"], o["role"]) for o in body["organizations"]] == [("Acme", "acme", "member")]
    body = client_of(world.bob).get("/api/v1/organizations").json()
    assert [(o["name"], o["role"]) for o in body["organizations"]] == [("Globex", "owner")]


def test_another_organization_is_not_found(world):
    bob = client_of(world.bob)
    for path in (f"/api/v1/organizations/{world.acme.pk}", f"/api/v1/organizations/{world.acme.pk}/members",
                 f"/api/v1/projects/{world.web.pk}"):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert bob.post(f"/api/v1/organizations/{world.acme.pk}/members", {"username": "bob"},
                    format="json").status_code == 404
    assert [p["name"] for p in bob.get("/api/v1/projects").json()["projects"]] == ["Ops"]


def test_members_read_but_do_not_manage(world):
    dave = client_of(world.dave)
    members = dave.get(f"/api/v1/organizations/{world.acme.pk}/members").json()["members"]
    assert [(m["username"], m["role"]) for m in members] == [("alice", "owner"), ("carol", "admin"),
                                                             ("dave", "member")]
    response = dave.post(f"/api/v1/organizations/{world.acme.pk}/members", {"username": "bob"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only the organization's owners and admins may do this."
    assert dave.post("/api/v1/projects", {"organization": world.acme.pk, "name": "X"},
                     format="json").status_code == 403
    assert dave.patch(f"/api/v1/projects/{world.web.pk}", {"rpm_limit": 5}, format="json").status_code == 403


def test_admins_manage_members_and_projects_but_only_owners_touch_owners(world):
    UserFactory(username="erin")
    carol = client_of(world.carol)
    url = f"/api/v1/organizations/{world.acme.pk}/members"
    response = carol.post(url, {"username": "erin", "role": "admin"}, format="json")
    assert response.status_code == 201
    assert (response.json()["username"], response.json()["role"]) == ("erin", "admin")
    assert carol.post(url, {"username": "erin"}, format="json").status_code == 409
    assert carol.post(url, {"username": "nobody"}, format="json").json()["error"]["fields"] == {
        "username": ["Unknown user."]}
    assert carol.post(url, {"username": world.bob.username, "role": "owner"}, format="json").status_code == 403
    assert carol.patch(f"{url}/{world.alice.pk}", {"role": "member"}, format="json").status_code == 403
    assert carol.patch(f"{url}/{world.dave.pk}", {"role": "admin"}, format="json").json()["role"] == "admin"
    assert carol.delete(f"{url}/{world.dave.pk}").json()["username"] == "dave"
    assert not Membership.objects.filter(user=world.dave).exists()
    project = carol.post("/api/v1/projects", {"organization": world.acme.pk, "name": "Data Lake", "rpm_limit": 60},
                         format="json")
    assert project.status_code == 201
    assert {k: project.json()[k] for k in ("name", "slug", "rpm_limit", "tpm_limit", "organization")} == {
        "name": "Data Lake", "slug": "data-lake", "rpm_limit": 60, "tpm_limit": None, "organization": world.acme.pk}


def test_an_organization_keeps_one_owner(world):
    alice = client_of(world.alice)
    url = f"/api/v1/organizations/{world.acme.pk}/members/{world.alice.pk}"
    response = alice.patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "An organization keeps at least one owner."
    assert alice.delete(url).status_code == 409
    assert alice.patch(f"/api/v1/organizations/{world.acme.pk}/members/{world.carol.pk}", {"role": "owner"},
                       format="json").status_code == 200
    assert alice.delete(url).status_code == 200  # another owner remains: alice may leave


def test_anyone_creates_an_organization_and_owns_it(world):
    response = client_of(world.dave).post("/api/v1/organizations", {"name": "Dave & Co"}, format="json")
    assert response.status_code == 201
    assert (response.json()["slug"], response.json()["role"]) == ("dave-co", "owner")
    assert Membership.objects.get(organization__slug="dave-co").user == world.dave
    again = client_of(world.bob).post("/api/v1/organizations", {"name": "Dave Co"}, format="json")
    assert again.status_code == 409
    assert Organization.objects.filter(slug="dave-co").count() == 1


@pytest.mark.parametrize("body, field", [
    ({"name": "a\x00b"}, "name"),
    ({"name": "x" * 121}, "name"),
    ('{"name": "ok", "slug": "a\\ud800"}', "slug"),
    ({"name": "!!!"}, "name"),
])
def test_bad_organization_input_is_a_400_naming_the_field(world, body, field):
    client = client_of(world.dave)
    if isinstance(body, str):  # JSON can spell a lone surrogate; Python cannot encode one
        response = client.post("/api/v1/organizations", body, content_type="application/json")
    else:
        response = client.post("/api/v1/organizations", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
