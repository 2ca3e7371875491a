"""The Keys and Organizations pages: same rules as the API, every user sees only their own."""

from __future__ import annotations

import re

from django.test import Client

from organizations.models import Membership, Project
from tests.factories import UserFactory
from tokens.models import ApiKey
from tokens.services import api_key_create


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_keys_page_creates_a_key_shows_it_once_and_revokes_it(world):
    page = signed_in(world.dave)
    response = page.post("/keys/", {"name": "laptop", "project": world.web.pk, "rpm_limit": "60",
                                    "tpm_limit": ""})
    assert response.status_code == 200
    raw = re.search(r'data-testid="raw-key">(ntk_[\w-]+)<', response.content.decode()).group(1)
    key = ApiKey.objects.get(name="laptop")
    assert (key.key_hash, key.project, key.rpm_limit, key.tpm_limit) == (ApiKey.hash(raw), world.web, 60, None)
    listing = page.get("/keys/").content.decode()
    assert raw not in listing and key.key_prefix in listing
    assert "0 of 60" in listing and "Acme / Web" in listing
    response = page.post(f"/keys/{key.pk}/revoke", follow=True)
    assert f"Revoked laptop ({key.key_prefix}…)." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_keys_page_shows_only_ones_own_keys_and_refuses_bad_input(world):
    mine, _ = api_key_create(user=world.bob, name="bob-secret-key")
    page = signed_in(world.dave)
    assert "bob-secret-key" not in page.get("/keys/").content.decode()
    response = page.post(f"/keys/{mine.pk}/revoke", follow=True)
    assert "No such key." in response.content.decode()
    mine.refresh_from_db()
    assert mine.revoked_at is None
    bad = page.post("/keys/", {"name": "a\x00b", "rpm_limit": "-3"})
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "Null characters are not allowed." in body
    assert "Ensure this value is greater than or equal to 0." in body
    # A project of another organization is not among the choices.
    other = page.post("/keys/", {"name": "x", "project": world.ops.pk})
    assert other.status_code == 400 and not ApiKey.objects.filter(name="x").exists()


def test_organizations_page_lets_managers_manage_and_members_read(world):
    UserFactory(username="erin")
    carol = signed_in(world.carol)
    page = carol.get("/organizations/").content.decode()
    assert "Acme" in page and "Globex" not in page and "Add member" in page
    done = carol.post(f"/organizations/{world.acme.pk}/action",
                      {"action": "add_member", f"m{world.acme.pk}-username": "erin",
                       f"m{world.acme.pk}-role": "member"}, follow=True)
    assert "Added erin." in done.content.decode()
    carol.post(f"/organizations/{world.acme.pk}/action",
               {"action": "add_project", f"p{world.acme.pk}-name": "Mobile", f"p{world.acme.pk}-rpm_limit": "10"})
    assert Project.objects.get(name="Mobile").rpm_limit == 10
    dave = signed_in(world.dave)
    assert "Add member" not in dave.get("/organizations/").content.decode()
    refused = dave.post(f"/organizations/{world.acme.pk}/action",
                        {"action": "set_role", "user_id": world.dave.pk, "role": "owner"}, follow=True)
    assert "Only the organization&#x27;s owners and admins may do this." in refused.content.decode()
    assert Membership.objects.get(user=world.dave).role == "member"
    outsider = signed_in(world.bob).post(f"/organizations/{world.acme.pk}/action",
                                         {"action": "remove_member", "user_id": world.dave.pk}, follow=True)
    assert "No such organization." in outsider.content.decode()
    assert Membership.objects.filter(user=world.dave).exists()
