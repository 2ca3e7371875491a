"""WS /ws/usage/: the caller's live usage events (staff: everyone's with ?scope=all).

Browsers authenticate with their session, other clients with
``Authorization: Bearer <key>`` in the handshake. The socket is accepted
before a refusal so the client can read the close code: 4401 for missing or
bad credentials, 4403 for a customer asking for ``scope=all``.

The session is honoured only from the site's own pages (an allowed-host
Origin): a cookie rides along with any page's WebSocket, a bearer key cannot,
so only the session path needs the cross-site check.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator

from core import events
from tokens.auth import api_key_from_header
from tokens.services import api_key_touch

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def _origin_allowed(scope: dict) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    try:
        parsed = urlparse(origin.decode("latin-1"))
    except UnicodeDecodeError:
        return False
    return AllowedHostsOriginValidator(None).valid_origin(parsed)


@database_sync_to_async
def _user_for_key(header: bytes):
    key = api_key_from_header(header)
    if key is None:
        return None
    api_key_touch(key=key)
    return key.user


class UsageConsumer(AsyncWebsocketConsumer):
    """Streams live events; all decisions about who sees what are made at connect."""

    attached = False

    async def connect(self) -> None:
        user = await self._authenticate()
        await self.accept()
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        scope_all = query.get("scope", [""])[-1] == "all"
        if scope_all and not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Staff in the all-users view get each event once, from the staff-wide group.
        self.groups = [events.ALL_GROUP] if scope_all else [events.user_group(user.pk)]
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        events.consumer_attach()
        self.attached = True

    async def disconnect(self, code: int) -> None:
        # The base class leaves self.groups; this only tells the sender the loop is gone.
        if self.attached:
            events.consumer_detach()
            self.attached = False

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Clients have nothing to say; input is ignored (keepalives welcome)."""

    async def usage_events(self, message: dict) -> None:
        for text in message["events"]:
            await self.send(text_data=text)

    async def _authenticate(self):
        header = _header(self.scope, b"authorization")
        if header is not None:
            # A bad key is a refusal, never a fall-back to the cookie.
            return await _user_for_key(header)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if not _origin_allowed(self.scope):
            return None
        return user
