"""An organization with two members, projects, keys and ledger rows set directly (attribution is the orgs work),
rolled up as ingestion rolls up what it stores (tags indexed, then every rollup)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from analytics.rollups import daily_usage_add
from organizations.models import Membership, Organization, Project
from tests.factories import UsageRecordFactory, UserFactory
from tokens.services import api_key_create, usage_tags_store


def day_at(days_ago: int, hour: int = 12) -> datetime:
    now = datetime.now(UTC)
    return (now - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)


def acme_org() -> dict:
    """acme: owner olga, admin adam, member mia (plus outsider bob's own org, globex)."""
    org = Organization.objects.create(name="Acme", slug="acme")
    globex = Organization.objects.create(name="Globex", slug="globex")
    people = {name: UserFactory(username=name) for name in ("olga", "adam", "mia", "bob")}
    for name, role in (("olga", "owner"), ("adam", "admin"), ("mia", "member")):
        Membership.objects.create(organization=org, user=people[name], role=role)
    Membership.objects.create(organization=globex, user=people["bob"], role="owner")
    web = Project.objects.create(organization=org, name="Web shop", slug="web")
    etl = Project.objects.create(organization=org, name="ETL", slug="etl")
    key, _ = api_key_create(user=people["mia"], name="mia-web")
    key.project = web
    key.save(update_fields=["project"])
    return {"org": org, "globex": globex, "web": web, "etl": etl, "key": key, **people}


def record(who, org, *, days_ago=0, cost="0.5", tokens=1000, **extra):
    values = {"input_tokens": tokens, "output_tokens": 0, "cost_usd": Decimal(cost)}
    stored = UsageRecordFactory(user=who, organization=org, occurred_at=extra.pop("at", day_at(days_ago)),
                                **values, **extra)
    usage_tags_store(records=[stored])
    daily_usage_add(record_ids=[stored.pk])
    return stored
