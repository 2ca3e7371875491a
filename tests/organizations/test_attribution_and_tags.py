"""Ingestion attributes spend (key's project → organization, else the user's organization) and keeps tags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import UserFactory
from tests.organizations.conftest import client_of, record
from tokens.models import UsageRecord, UsageTag


def test_a_project_key_attributes_to_its_project_and_organization(world):
    client = client_of(world.dave, project=world.web)
    response = client.post("/api/v1/usage", record(tags=["marketing", "eu", "marketing"]), format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["organization"], body["project"], body["tags"]) == (world.acme.pk, world.web.pk, ["marketing", "eu"])
    stored = UsageRecord.objects.get()
    assert (stored.organization_id, stored.project_id, stored.api_key_id) == (world.acme.pk, world.web.pk,
                                                                              client.key.pk)
    assert sorted(UsageTag.objects.values_list("tag", "organization_id")) == [("eu", world.acme.pk),
                                                                             ("marketing", world.acme.pk)]


def test_without_a_project_the_users_oldest_membership_pays_and_no_membership_none(world):
    client_of(world.dave).post("/api/v1/usage", record(), format="json")
    loner = UserFactory(username="loner")
    client_of(loner).post("/api/v1/usage", record(), format="json")
    rows = dict(UsageRecord.objects.values_list("user__username", "organization_id"))
    assert rows == {"dave": world.acme.pk, "loner": None}
    assert set(UsageRecord.objects.values_list("project_id", flat=True)) == {None}


@pytest.mark.parametrize("tags, fields", [
    (["t"] * 11, {"tags": ["At most 10 tags."]}),
    ("marketing", {"tags": ["Must be a list of at most 10 strings."]}),
    (["ok", 5], {"tags.1": ["Must be a string."]}),
    (["x" * 65], {"tags.0": ["At most 64 characters."]}),
    (["  "], {"tags.0": ["May not be blank."]}),
    (["a\x00b"], {"tags.0": ["Null characters are not allowed."]}),
])
def test_bad_tags_are_a_400_naming_the_tag(world, tags, fields):
    response = client_of(world.dave).post("/api/v1/usage", record(tags=tags), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields
    assert not UsageRecord.objects.exists()


def test_spend_is_filtered_and_grouped_by_tag_and_project(world):
    tagged = client_of(world.dave, project=world.web)
    tagged.post("/api/v1/usage", record(tags=["ads"]), format="json")
    tagged.post("/api/v1/usage", record(tags=["ads", "eu"]), format="json")
    client_of(world.dave).post("/api/v1/usage", record(), format="json")
    page = tagged.get("/api/v1/usage", {"tag": "eu"}).json()
    assert [r["tags"] for r in page["results"]] == [["ads", "eu"]]
    assert len(tagged.get("/api/v1/usage", {"project": world.web.pk}).json()["results"]) == 2
    summary = tagged.get("/api/v1/usage/summary", {"group_by": "tag"}).json()
    # gpt-4o: 100 input at $2.50/M + 20 output at $10/M = $0.00045 a call.
    assert [(g["key"], g["requests"], g["cost_usd"]) for g in summary["groups"]] == [
        ("ads", 2, "0.0009"), ("eu", 1, "0.00045")]
    assert summary["totals"]["requests"] == 3
    assert Decimal(tagged.get("/api/v1/usage/summary", {"tag": "ads"}).json()["totals"]["cost_usd"]) == \
        Decimal("0.0009")
    by_project = tagged.get("/api/v1/usage/summary", {"group_by": "project"}).json()["groups"]
    assert sorted((g["key"], g["requests"]) for g in by_project) == [("", 1), (str(world.web.pk), 2)]
