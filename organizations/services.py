"""Writes: organizations, their members and roles, their projects (docs/organizations.md).

Who may do what: an organization's owners and admins manage its members and projects; only owners
make, unmake or remove owners; an organization always keeps one owner. Staff may do everything (and
do it in Django admin). Anyone else gets NotFound for an organization they do not belong to (its
existence is not theirs to learn) and PermissionDenied for one they only read.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from organizations.models import Membership, Organization, Project
from organizations.selectors import can_manage, role_in

NOT_A_MANAGER = "Only the organization's owners and admins may do this."


def organization_require(*, user, organization_id: int, manage: bool = False) -> Organization:
    """The organization if ``user`` belongs to it (or is staff); with ``manage``, if they may manage it."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None or (not user.is_staff and role_in(user, organization) is None):
        raise NotFound("No such organization.")
    if manage and not can_manage(user, organization):
        raise PermissionDenied(NOT_A_MANAGER)
    return organization


def _slug(value: str, name: str) -> str:
    slug = slugify(value)[:60]
    if not slug:
        raise InvalidInput("Give a name or slug with letters or digits.", fields={name: ["No usable slug."]})
    return slug


def organization_create(*, by, name: str, slug: str = "") -> Organization:
    """A new organization; its creator is its first owner."""
    slug = _slug(slug or name, "slug" if slug else "name")
    try:
        with transaction.atomic():
            organization = Organization.objects.create(name=name, slug=slug)
            Membership.objects.create(organization=organization, user=by, role=Membership.OWNER)
    except IntegrityError:
        raise Conflict(f"The slug {slug!r} is taken.", fields={"slug": ["Taken."]})
    return organization


def _owners_left(organization: Organization, *, without: Membership) -> int:
    return Membership.objects.filter(organization=organization, role=Membership.OWNER).exclude(pk=without.pk).count()


def _check_owner_rule(*, by, organization: Organization, touches_owner: bool) -> None:
    if touches_owner and not by.is_staff and role_in(by, organization) != Membership.OWNER:
        raise PermissionDenied("Only an owner may make, change or remove an owner.")


def member_add(*, by, organization: Organization, username: str, role: str = Membership.MEMBER) -> Membership:
    if not can_manage(by, organization):
        raise PermissionDenied(NOT_A_MANAGER)
    _check_owner_rule(by=by, organization=organization, touches_owner=role == Membership.OWNER)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InvalidInput(f"Unknown user {username!r}.", code="unknown_user", fields={"username": ["Unknown user."]})
    try:
        with transaction.atomic():
            return Membership.objects.create(organization=organization, user=user, role=role)
    except IntegrityError:
        raise Conflict(f"{username} is already a member.", fields={"username": ["Already a member."]})


def member_update(*, by, membership: Membership, role: str) -> Membership:
    organization = membership.organization
    if not can_manage(by, organization):
        raise PermissionDenied(NOT_A_MANAGER)
    _check_owner_rule(by=by, organization=organization,
                      touches_owner=Membership.OWNER in (role, membership.role))
    with transaction.atomic():
        # Lock the organization's owner rows so two demotions cannot leave it without an owner.
        list(Membership.objects.select_for_update().filter(organization=organization, role=Membership.OWNER))
        if membership.role == Membership.OWNER and role != Membership.OWNER \
                and not _owners_left(organization, without=membership):
            raise Conflict("An organization keeps at least one owner.", fields={"role": ["The last owner."]})
        Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role
    return membership


def member_remove(*, by, membership: Membership) -> None:
    organization = membership.organization
    leaving = membership.user_id == by.pk
    if not leaving and not can_manage(by, organization):
        raise PermissionDenied(NOT_A_MANAGER)
    if not leaving:
        _check_owner_rule(by=by, organization=organization, touches_owner=membership.role == Membership.OWNER)
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(organization=organization, role=Membership.OWNER))
        if membership.role == Membership.OWNER and not _owners_left(organization, without=membership):
            raise Conflict("An organization keeps at least one owner.", fields={"user": ["The last owner."]})
        Membership.objects.filter(pk=membership.pk).delete()


def project_create(*, by, organization: Organization, name: str, slug: str = "", rpm_limit: int | None = None,
                   tpm_limit: int | None = None) -> Project:
    if not can_manage(by, organization):
        raise PermissionDenied(NOT_A_MANAGER)
    slug = _slug(slug or name, "slug" if slug else "name")
    try:
        with transaction.atomic():
            return Project.objects.create(organization=organization, name=name, slug=slug, rpm_limit=rpm_limit,
                                          tpm_limit=tpm_limit)
    except IntegrityError:
        raise Conflict(f"The organization has a project {slug!r} already.", fields={"slug": ["Taken."]})


PROJECT_EDITABLE = ("name", "rpm_limit", "tpm_limit")


def project_update(*, by, project: Project, **changes) -> Project:
    if not can_manage(by, project.organization):
        raise PermissionDenied(NOT_A_MANAGER)
    changes = {k: v for k, v in changes.items() if k in PROJECT_EDITABLE}
    for name, value in changes.items():
        setattr(project, name, value)
    if changes:
        project.save(update_fields=list(changes))
    return project


def project_delete(*, by, project: Project) -> None:
    """Delete a project; its keys keep working, attributed to their user's organization from then on."""
    if not can_manage(by, project.organization):
        raise PermissionDenied(NOT_A_MANAGER)
    project.delete()
