"""Two organizations: Acme (alice owner, carol admin, dave member; project web) and Globex (bob owner; ops)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Membership, Organization, Project
from tests.factories import UserFactory
from tokens.services import api_key_create

_ids = itertools.count()


@dataclass
class World:
    acme: Organization
    globex: Organization
    web: Project
    ops: Project
    alice: object
    carol: object
    dave: object
    bob: object


@pytest.fixture
def world(db, catalog) -> World:
    acme = Organization.objects.create(name="Acme", slug="acme")
    globex = Organization.objects.create(name="Globex", slug="globex")
    alice, carol, dave, bob = (UserFactory(username=n) for n in ("alice", "carol", "dave", "bob"))
    now = timezone.now()
    for i, (org, who, role) in enumerate([(acme, alice, "owner"), (acme, carol, "admin"), (acme, dave, "member"),
                                          (globex, bob, "owner")]):
        Membership.objects.create(organization=org, user=who, role=role, created_at=now + timedelta(seconds=i))
    web = Project.objects.create(organization=acme, name="Web", slug="web")
    ops = Project.objects.create(organization=globex, name="Ops", slug="ops")
    return World(acme, globex, web, ops, alice, carol, dave, bob)


def client_of(user, **key_values) -> APIClient:
    key, raw = api_key_create(user=user, name=key_values.pop("name", "tests"), **key_values)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.key = key
    return client


def record(**extra) -> dict:
    return {"request_id": f"o-{next(_ids)}", "model": "gpt-4o", "agent": "triage", "prompt_tokens": 100,
            "completion_tokens": 20, **extra}
