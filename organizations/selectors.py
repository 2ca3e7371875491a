"""Reads shared by every layer above: which organization a user or key acts for."""

from __future__ import annotations

from organizations.models import Membership, Organization


def organization_for(user, project=None) -> Organization | None:
    """The organization spend is attributed to: the project's, else the user's oldest membership."""
    if project is not None:
        return project.organization
    membership = (
        Membership.objects.filter(user=user).select_related("organization").order_by("created_at", "pk").first()
    )
    return membership.organization if membership else None


def memberships_of(user):
    return Membership.objects.filter(user=user).select_related("organization")


def role_in(user, organization) -> str | None:
    row = Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    return row


def organization_member_ids(*, organization_id: int) -> list[int]:
    return list(Membership.objects.filter(organization_id=organization_id).values_list("user_id", flat=True))


def can_manage(user, organization) -> bool:
    """Owners and admins manage an organization's members, projects, keys and budgets; staff manage all."""
    if getattr(user, "is_staff", False):
        return True
    return role_in(user, organization) in Membership.MANAGER_ROLES
