"""Demo tenancy: two organizations with projects, project keys with rate limits, tags and scoped budgets."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from budgets.models import Budget
from budgets.services import budget_create
from organizations.models import Membership, Organization, Project
from tokens.models import ApiKey
from tokens.services import api_key_create

# slug -> (name, owner, other members with roles, projects as (slug, name, rpm, tpm))
DEMO_ORGS = {
    "acme": ("Acme Robotics", "alice", [("bob", Membership.MEMBER)],
             [("support-bot", "Support bot", 120, 400_000), ("research", "Research", 60, 200_000)]),
    "globex": ("Globex Labs", "bob", [], [("pipeline", "Pipeline", 60, 150_000)]),
}
# The cost centers the demo agents report (a call carries its agent's tags).
AGENT_TAGS = {
    "triage": ["support"], "data": ["research"], "optimization": ["research"], "action": ["support"],
    "reporting": ["marketing"],
}
# slug -> budgets of that organization (name, scope, period, limits, enforcement; project/tag by slug)
DEMO_ORG_BUDGETS = {
    "acme": [
        {"name": "Acme monthly", "scope": "organization", "period": "month", "limit_usd": Decimal("60")},
        {"name": "Marketing daily", "scope": "tag", "tag": "marketing", "period": "day", "limit_usd": Decimal("0.40")},
        {"name": "Research monthly", "scope": "project", "project": "research", "period": "month",
         "limit_usd": Decimal("25"), "enforcement": Budget.SOFT},
    ],
    "globex": [{"name": "Globex monthly", "scope": "organization", "period": "month", "limit_usd": Decimal("15")}],
}


def demo_organizations_ensure() -> dict[str, list[ApiKey]]:
    """Organizations, memberships, projects and one rate-limited demo key per project (its owner's).

    Returns username -> the demo keys their seeded usage is reported with. Existing rows are kept.
    """
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["alice", "bob"])}
    keys: dict[str, list[ApiKey]] = {}
    for slug, (name, owner, members, projects) in DEMO_ORGS.items():
        if owner not in users:
            continue
        organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
        Membership.objects.get_or_create(organization=organization, user=users[owner],
                                         defaults={"role": Membership.OWNER})
        for username, role in members:
            if username in users:
                Membership.objects.get_or_create(organization=organization, user=users[username],
                                                 defaults={"role": role})
        for project_slug, project_name, rpm, tpm in projects:
            project, _ = Project.objects.get_or_create(
                organization=organization, slug=project_slug,
                defaults={"name": project_name, "rpm_limit": rpm * 4, "tpm_limit": tpm * 4})
            key = ApiKey.objects.filter(project=project, name=f"{project_slug} (demo)").first()
            if key is None:
                # The raw key is not kept: the demo's own usage is reported with it, in-process.
                key, _ = api_key_create(user=users[owner], name=f"{project_slug} (demo)", project=project,
                                        rpm_limit=rpm, tpm_limit=tpm)
            keys.setdefault(owner, []).append(key)
    return keys


def demo_org_budgets_ensure() -> int:
    """The organizations' budgets (skipped for an organization that has any)."""
    created = 0
    for slug, specs in DEMO_ORG_BUDGETS.items():
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None or Budget.objects.filter(organization=organization).exists():
            continue
        for spec in specs:
            values = dict(spec)
            if "project" in values:
                values["project"] = Project.objects.get(organization=organization, slug=values["project"])
            else:
                values["organization"] = organization
            budget_create(by=None, **values)
            created += 1
    return created


def demo_project_for(user) -> Project | None:
    """The first project of the first organization ``user`` owns (the simulator's keys go there)."""
    return (Project.objects.filter(organization__memberships__user=user,
                                   organization__memberships__role=Membership.OWNER)
            .order_by("organization__slug", "slug").first())
