"""API keys: created with the raw secret shown once, revoked, touched at most once a minute."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tokens.models import ApiKey


def api_key_create(*, user, name: str = "default", is_service: bool = False) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored."""
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        user=user, name=name or "default", is_service=is_service, key_prefix=raw[:12], key_hash=ApiKey.hash(raw)
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
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
