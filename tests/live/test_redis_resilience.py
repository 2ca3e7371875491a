"""Live sockets on the Redis channel layer stay open while idle and come back after Redis restarts.

Each test runs its own Redis server (tests.private_redis) and stops or restarts it; the machine's
shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async

from tests.live.conftest import bearer_headers, run

pytestmark = pytest.mark.django_db(transaction=True)

RECORD = {"request_id": "r-1", "model": "gpt-4o", "agent": "triage", "prompt_tokens": 100, "completion_tokens": 10}


@pytest.fixture
def redis_layer(settings, private_redis):
    """The production channel layer, on a Redis of this test's own."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "live.layers.ResilientRedisChannelLayer",
            "CONFIG": {"hosts": [{"address": private_redis.url, **settings.CHANNEL_REDIS_OPTIONS}],
                       "prefix": "resilience"},
        }
    }
    return private_redis


def post(api, request_id: str) -> None:
    response = api.post("/api/v1/usage", {**RECORD, "request_id": request_id}, format="json")
    assert response.status_code == 201, response.content


async def next_of_type(comm, event_type: str, timeout: float) -> dict:
    event = await comm.receive_json_from(timeout=timeout)
    assert event["type"] == event_type, event
    return event


def test_an_idle_socket_outlives_the_layers_blocking_read(api, connect, redis_layer):
    """Before: redis-py 8's 5 s read timeout was no longer than the layer's 5 s pop: 1011 after 5-10 s idle."""

    async def scenario():
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)
        assert await comm.receive_nothing(timeout=12)  # idle through two blocking pops and the old timeout
        await sync_to_async(post)(api, "after-idle")
        event = await next_of_type(comm, "token_usage", timeout=5)
        assert event["data"]["request_id"] == "after-idle"
        await comm.disconnect()

    run(scenario)


def test_a_socket_survives_a_redis_restart_and_resyncs(api, connect, redis_layer):
    async def scenario():
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)
        await sync_to_async(post)(api, "before-restart")
        await next_of_type(comm, "token_usage", timeout=5)

        await sync_to_async(redis_layer.restart)()  # every connection drops, every group is forgotten

        resync = await next_of_type(comm, "resync", timeout=10)  # the client refetches what it missed
        assert resync["data"] == {}
        await sync_to_async(post)(api, "after-restart")
        event = await next_of_type(comm, "token_usage", timeout=5)
        assert event["data"]["request_id"] == "after-restart"
        await comm.disconnect()

    run(scenario)


def test_every_socket_of_a_process_resyncs_once_after_a_redis_restart(api, connect, redis_layer):
    """channels_redis reads for all of a process's sockets through one of them: only that one (and those
    that read while Redis was down) saw the lost connection. Measured on two daphne processes with 100
    idle sockets (bench/idle_sockets.py): 64 of 100 were told to resync. Now every socket is, once."""

    async def scenario():
        sockets = []
        for _ in range(20):
            comm, accepted, code = await connect(bearer_headers(api.raw_key))
            assert (accepted, code) == (True, None)
            sockets.append(comm)
        await sync_to_async(redis_layer.restart)()
        for comm in sockets:
            await next_of_type(comm, "resync", timeout=10)
        await sync_to_async(post)(api, "after-restart")
        for comm in sockets:
            event = await next_of_type(comm, "token_usage", timeout=5)  # no second resync before it
            assert event["data"]["request_id"] == "after-restart"
            assert await comm.receive_nothing(timeout=0.1)
        for comm in sockets:
            await comm.disconnect()

    run(scenario)


def test_a_socket_opened_while_redis_is_down_joins_when_it_returns(api, connect, redis_layer):
    async def scenario():
        await sync_to_async(redis_layer.stop)()
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)  # open, not 1011
        assert await comm.receive_nothing(timeout=1)
        await sync_to_async(redis_layer.start)()
        await next_of_type(comm, "resync", timeout=10)
        await sync_to_async(post)(api, "after-outage")
        event = await next_of_type(comm, "token_usage", timeout=5)
        assert event["data"]["request_id"] == "after-outage"
        await comm.disconnect()

    run(scenario)


def test_usage_is_stored_while_redis_is_down(api, connect, redis_layer):
    """Ingestion never depends on the live layer: the record is stored, its event is best effort."""
    redis_layer.stop()
    post(api, "while-down")
    assert api.get("/api/v1/usage").json()["results"][0]["request_id"] == "while-down"


def test_the_rejoin_loop_restores_membership_without_a_lost_connection(api, connect, redis_layer, settings):
    """A Redis that forgot the groups without dropping the socket's connection (FLUSHALL, failover)."""
    settings.NETRA_LIVE_REJOIN_SECONDS = 1

    async def scenario():
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)
        client = aioredis.Redis.from_url(redis_layer.url)
        keys = [k for k in await client.keys("resilience*") if b"group" in k]
        assert keys  # the socket's group
        await client.delete(*keys)
        await asyncio.sleep(2.5)  # two rejoin rounds
        await sync_to_async(post)(api, "after-forget")
        event = await next_of_type(comm, "token_usage", timeout=5)
        assert event["data"]["request_id"] == "after-forget"
        await client.aclose()
        await comm.disconnect()

    run(scenario)


def test_closing_sockets_never_wait_on_the_layer(api, connect, redis_layer):
    """A closing socket cancels its blocked read; redis-py reports that as a lost connection, which the layer
    must not wait out (the event loop would never finish closing)."""

    async def scenario():
        refused, accepted, code = await connect(bearer_headers("ntk_not-a-key"))
        assert (accepted, code) == (True, 4401)
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)
        await asyncio.wait_for(comm.disconnect(), timeout=5)

    started = time.monotonic()
    run(scenario)
    assert time.monotonic() - started < 10
