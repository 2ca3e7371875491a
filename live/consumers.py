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

import asyncio
import logging
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings

from core import events
from live.layers import LAYER_ERRORS
from tokens.auth import api_key_from_header
from tokens.services import api_key_touch

logger = logging.getLogger(__name__)

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
    rejoining: asyncio.Task | None = None

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
        await self._join()
        # Re-joined now and then: a restarted Redis forgot the groups, and membership expires after a day.
        self.rejoining = asyncio.ensure_future(self._rejoin_forever())
        events.consumer_attach()
        self.attached = True

    async def _join(self) -> None:
        try:
            for group in self.groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except LAYER_ERRORS as exc:  # Redis is down: the socket stays, and joins once it is back
            logger.warning("live: cannot join %s yet (%s)", self.groups, exc)

    async def _rejoin_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.NETRA_LIVE_REJOIN_SECONDS)
            await self._join()

    async def websocket_disconnect(self, message: dict) -> None:
        if self.rejoining is not None:
            self.rejoining.cancel()
        try:
            await super().websocket_disconnect(message)
        except LAYER_ERRORS as exc:  # leaving a group of a Redis that is down: it forgets by itself
            logger.warning("live: could not leave %s (%s)", self.groups, exc)
            await self.disconnect(message.get("code", 1000))
            raise StopConsumer() from None

    async def disconnect(self, code: int) -> None:
        # The base class leaves self.groups; this only tells the sender the loop is gone.
        if self.attached:
            events.consumer_detach()
            self.attached = False

    async def usage_resync(self, message: dict) -> None:
        """The layer lost Redis and has it back: join again, and tell the client to refetch what it missed."""
        await self._join()
        await self.send(text_data=events.encode(events.envelope("resync", {})))

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
