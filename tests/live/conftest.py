"""Fixtures for live-event tests: WebSocket communicators against the real ASGI app."""

from __future__ import annotations

import copy
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from core import events
from netra_site.asgi import application

RUN_PREFIX = f"netra-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _own_redis_keys(settings):
    """With Redis, this run's groups and counters stay apart from any server or bench on the same DB."""
    if "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["prefix"] = RUN_PREFIX
        settings.CHANNEL_LAYERS = layers
    if "Redis" in settings.CACHES["default"]["BACKEND"]:
        caches = copy.deepcopy(settings.CACHES)
        caches["default"]["KEY_PREFIX"] = RUN_PREFIX
        settings.CACHES = caches


@pytest.fixture(autouse=True)
def _no_event_in_flight(_own_redis_keys):
    """No test's events are still being delivered when the next test starts."""
    yield
    events.flush(5)


@pytest.fixture
def asgi_app():

    return application


def session_headers(user, origin: str = "http://testserver") -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"cookie", cookie.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return headers


def bearer_headers(raw_key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {raw_key}".encode())]


@pytest.fixture
def connect(asgi_app):
    """``await connect(headers, path)`` -> (communicator, accepted, close code or None)."""

    async def _connect(headers, path: str = "/ws/usage/"):
        comm = WebsocketCommunicator(asgi_app, path, headers=headers)
        accepted, _ = await comm.connect(timeout=5)
        if not accepted:
            return comm, False, None
        # A refusal is an accept followed by a close carrying the code.
        if await comm.receive_nothing(timeout=0.05):
            return comm, True, None
        message = await comm.receive_output(timeout=1)
        if message["type"] == "websocket.close":
            # The client goes away as a browser would, so the consumer ends here rather than being cancelled
            # when the test's event loop closes (a cancelled consumer on the Redis layer could hang that close).
            await comm.disconnect(timeout=5)
            return comm, True, message.get("code")
        raise AssertionError(f"unexpected first message {message!r}")

    return _connect


def run(scenario) -> None:
    """Run an async test body; sync_to_async work inside runs on this (the test's) thread."""
    async_to_sync(scenario)()
