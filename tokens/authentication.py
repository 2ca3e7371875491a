"""Bearer API-key authentication for agents."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from tokens.models import ApiKey
from tokens.services import api_key_touch


def api_key_from_header(header: str | bytes | None) -> ApiKey | None:
    """The active key named by an ``Authorization: Bearer <key>`` header, or None."""
    if not header:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    # key_hash is unique: no ORDER BY (first() would sort by the model's ordering).
    keys = list(
        ApiKey.objects.active()
        .select_related("user")
        .filter(key_hash=ApiKey.hash(raw.strip()), user__is_active=True)
        .order_by()[:1]
    )
    return keys[0] if keys else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        if not header.lower().startswith("bearer "):
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = api_key_from_header(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(key=key)
        return key.user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
