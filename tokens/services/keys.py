"""API keys: created with the raw secret shown once, named, limited, revoked, touched at most once a minute.

Who may do what (docs/organizations.md): a customer creates, renames, limits and revokes their own
keys, and may attach a key to a project of an organization they belong to; an organization's owners
and admins may also change and revoke the keys attached to its projects. Service keys come only from
Django admin or ``manage.py create_api_key --service``.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.errors import PermissionDenied
from organizations.models import Project
from organizations.selectors import can_manage, role_in
from tokens.models import ApiKey

KEY_EDITABLE = ("name", "rpm_limit", "tpm_limit")


def api_key_create(*, user, name: str = "default", is_service: bool = False, project: Project | None = None,
                   rpm_limit: int | None = None, tpm_limit: int | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored."""
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        user=user, name=name or "default", is_service=is_service, key_prefix=raw[:12], key_hash=ApiKey.hash(raw),
        project=project, rpm_limit=rpm_limit, tpm_limit=tpm_limit,
    )
    return key, raw


def api_key_create_for(*, by, name: str, project: Project | None = None, rpm_limit: int | None = None,
                       tpm_limit: int | None = None) -> tuple[ApiKey, str]:
    """A customer's own new key; a project must be one of an organization they belong to."""
    if project is not None and not by.is_staff and role_in(by, project.organization) is None:
        raise PermissionDenied("You can attach a key only to a project of your own organization.",
                               fields={"project": ["Not a project of your organization."]})
    return api_key_create(user=by, name=name, project=project, rpm_limit=rpm_limit, tpm_limit=tpm_limit)


def api_key_may_manage(*, by, key: ApiKey) -> bool:
    """The key's own user, staff, or an owner or admin of the organization of the key's project."""
    if key.user_id == by.pk or by.is_staff:
        return True
    return key.project_id is not None and can_manage(by, key.project.organization)


def api_key_update(*, by, key: ApiKey, **changes) -> ApiKey:
    if not api_key_may_manage(by=by, key=key):
        raise PermissionDenied("Only the key's user and its organization's owners and admins may change it.")
    changes = {k: v for k, v in changes.items() if k in KEY_EDITABLE}
    for name, value in changes.items():
        setattr(key, name, value)
    if changes:
        key.save(update_fields=list(changes))
    return key


def api_key_revoke(*, key: ApiKey, by=None) -> ApiKey:
    if by is not None and not api_key_may_manage(by=by, key=key):
        raise PermissionDenied("Only the key's user and its organization's owners and admins may revoke it.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once a minute, so auth does not write a hot row per request."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
