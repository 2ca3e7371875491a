"""API plumbing that rests on API keys: bearer authentication, who a request acts for, who manages.

Agents authenticate with ``Authorization: Bearer <key>``; browsers with the
session. A service key may act for any user by naming them (``user``).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.api.throttles import auth_failures
from core.errors import InvalidInput
from core.validation import text_error
from tokens.models import ApiKey
from tokens.services import acting_user_resolve, api_key_touch

USERNAME_MAX_LENGTH = 150  # django.contrib.auth's username column


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
    """``Authorization: Bearer <key>``. Guessing keys is limited: past NETRA_AUTH_FAILURES_LIMIT failed
    attempts from one address in a window, every attempt from it is a 429 until the window ends."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        failures, address = auth_failures(), self.get_ident(request)
        if failures is not None and failures.count(address) >= failures.limit:
            raise exceptions.Throttled(wait=failures.wait(), detail="Too many failed API key attempts.")
        if not header.lower().startswith("bearer "):
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = api_key_from_header(header)
        if key is None:
            if failures is not None:
                failures.hit(address)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(key=key)
        return key.user, key

    @staticmethod
    def get_ident(request) -> str:
        """The client's address as DRF's throttles see it (X-Forwarded-For behind NUM_PROXIES proxies)."""
        return BaseThrottle().get_ident(request)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema's name for ApiKeyAuthentication: HTTP bearer, so Swagger UI's Authorize button takes a key."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ntk_<43 characters>",
            "description": "An API key from Django admin or `manage.py create_api_key USERNAME`.",
        }


def request_key(request: Request) -> ApiKey | None:
    """The API key a request authenticated with (None for a browser session)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def is_service_request(request: Request) -> bool:
    """Whether the request comes with a service key (which may act for any user)."""
    key = request_key(request)
    return key is not None and key.is_service


def acting_user(request: Request, username: str | None = None):
    """The user a request acts for: the caller, or the user a service key names (body or query)."""
    problem = text_error(username, USERNAME_MAX_LENGTH) if isinstance(username, str) else None
    if problem:
        raise InvalidInput(f"Invalid user: {problem}", fields={"user": [problem]})
    return acting_user_resolve(user=request.user, api_key=request_key(request), username=username)


class IsStaffOrServiceKey(permissions.BasePermission):
    """Operators: staff users (session or key) and service keys; customers get 403."""

    message = "Only staff users and service keys may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated
                    and (request.user.is_staff or is_service_request(request)))


class ReadOrStaffOrServiceKey(IsStaffOrServiceKey):
    """Anyone signed in may read; only operators may write (budgets: customers read their own)."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)


def is_operator(request: Request) -> bool:
    """Staff or a service key: may see and manage across users."""
    return IsStaffOrServiceKey().has_permission(request, None)
