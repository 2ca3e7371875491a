"""Who a usage record's spend belongs to: organization, project, key; and its cost-center tags, indexed."""

from __future__ import annotations

from collections.abc import Iterable

from organizations.selectors import organization_for
from tokens.models import ApiKey, UsageRecord, UsageTag


def usage_attribution(*, api_key: ApiKey | None, user, cache: dict | None = None) -> tuple[int | None, int | None]:
    """(organization id, project id) a call's spend belongs to (docs/organizations.md): the key's project
    and its organization, else the acting user's oldest membership's organization, else neither."""
    project = api_key.project if api_key is not None and api_key.project_id else None
    if project is not None:
        return project.organization_id, project.pk
    if cache is not None and user.pk in cache:
        return cache[user.pk], None
    organization = organization_for(user)
    org_id = organization.pk if organization is not None else None
    if cache is not None:
        cache[user.pk] = org_id
    return org_id, None


def usage_tags_store(*, records: Iterable[UsageRecord]) -> None:
    """One UsageTag row per tag of each stored record (the indexed side of ``tags``)."""
    rows = [
        UsageTag(record_id=r.pk, tag=tag, user_id=r.user_id, organization_id=r.organization_id,
                 occurred_at=r.occurred_at)
        for r in records for tag in r.tags
    ]
    if rows:
        UsageTag.objects.bulk_create(rows, ignore_conflicts=True)

