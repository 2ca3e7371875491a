"""API plumbing that rests on API keys: bearer authentication, who a request acts for, who manages.

Agents authenticate with ``Authorization: Bearer <key>``; browsers with the
session. A service key may act for any user by naming them (``user``).
"""

from __future__ import annotations

import functools

from django.db import connections, router
from django.db.models.query import get_related_populators
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
    return _key_lookup(ApiKey.hash(raw.strip()))


_HASH_MARKER = "\x00key_hash"  # stands for the hash in the compiled statement (no real hash has a NUL)


class _CompiledKeyLookup:
    """The key lookup query compiled once per database alias, run with the hash each time.

    Building and compiling the ``select_related`` query cost about 1 ms of CPU per request, ten times its
    round trip, and a fifth of a single usage post's Python (docs/benchmarks.md, "Issue 14"). The rows
    become instances as Django's ModelIterable makes them: the same converters and related populators.
    """

    def __init__(self, alias: str) -> None:
        # key_hash is unique: no ORDER BY (first() would sort by the model's ordering).
        queryset = (ApiKey.objects.using(alias).active().select_related("user", "project__organization")
                    .filter(key_hash=_HASH_MARKER, user__is_active=True).order_by()[:1])
        compiler = queryset.query.get_compiler(alias)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.hash_at = self.params.index(_HASH_MARKER)
        select, klass_info = compiler.select, compiler.klass_info
        self.compiler, self.alias = compiler, alias
        self.converters = compiler.get_converters([expr for expr, _, _ in select])
        fields = klass_info["select_fields"]
        self.own = slice(fields[0], fields[-1] + 1)
        self.names = [col.target.attname for col, _, _ in select[self.own]]
        self.related = get_related_populators(klass_info, select, alias)

    def __call__(self, key_hash: str) -> ApiKey | None:
        params = list(self.params)
        params[self.hash_at] = key_hash
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            (row,) = self.compiler.apply_converters([row], self.converters)
        key = ApiKey.from_db(self.alias, self.names, row[self.own])
        for populator in self.related:
            populator.populate(row, key)
        return key


@functools.cache
def _compiled_key_lookup(alias: str, vendor: str) -> _CompiledKeyLookup:
    return _CompiledKeyLookup(alias)


def _key_lookup(key_hash: str) -> ApiKey | None:
    """The active key with this hash, with its (active) user, or None."""
    alias = router.db_for_read(ApiKey)
    return _compiled_key_lookup(alias, connections[alias].vendor)(key_hash)


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
