"""Live-event latency with the Redis channel layer, beside raw Redis pub/sub.

    .venv/bin/python bench/live.py [--rate 200] [--seconds 10]

Starts the serving set as ``make serve`` does (gunicorn HTTP, daphne WebSockets,
Celery worker and beat; PostgreSQL + Redis from DATABASE_URL / REDIS_URL,
defaulting to the local netra_live database and Redis DB 2), connects a
WebSocket client with a bearer key, and POSTs one usage record at a time to
/api/v1/usage at ``--rate`` per second. For each record it
measures the time from the POST returning to its token_usage event arriving at
the client. In the same run it measures raw Redis pub/sub (redis-py publisher
to subscriber, same rate and count) and one 1000-record batch: how long the
POST takes and how long its 1000 events take to arrive after it returned.
Bounded: about 2 x --seconds plus ~15 s of setup.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import django
import redis
import websockets
from harness import ServeSet, percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/netra_live"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"


def ms(value: float) -> str:
    return f"{value * 1000:.2f}"


# --- Raw Redis pub/sub --------------------------------------------------------------------


def paced(rate: float, count: int):
    """Yield ``count`` times, ``rate`` times a second (catching up after a slow step)."""
    due = time.perf_counter()
    for i in range(count):
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        due += 1 / rate
        yield i


def raw_pubsub(redis_url: str, rate: float, count: int) -> list[float]:
    client = redis.Redis.from_url(redis_url)
    channel = f"bench-live-{uuid.uuid4().hex}"
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    latencies: list[float] = []
    done = threading.Event()

    def listen() -> None:
        for message in pubsub.listen():
            sent = float(message["data"])
            latencies.append(time.perf_counter() - sent)
            if len(latencies) >= count:
                done.set()
                return

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.2)
    publisher = redis.Redis.from_url(redis_url)
    for _ in paced(rate, count):
        publisher.publish(channel, repr(time.perf_counter()))
    done.wait(10)
    pubsub.close()
    return latencies


# --- The project: POST -> WebSocket --------------------------------------------------------


class Poster:
    def __init__(self, port: int, raw_key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}

    def post(self, body: dict) -> tuple[int, float, float]:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.conn.request("POST", "/api/v1/usage", body=data, headers=self.headers)
                response = self.conn.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed an idle kept-alive connection (gunicorn's keep-alive is 2 s): reconnect.
                self.conn.close()
                if attempt == 2:
                    raise
                continue
            response.read()
            return response.status, start, time.perf_counter()
        raise AssertionError("unreachable")


def record(request_id: str) -> dict:
    return {"request_id": request_id, "model": "gpt-4o", "agent": "bench", "tool": "bench",
            "usage": {"prompt_tokens": 1200, "completion_tokens": 80}}


async def project_run(port: int, ws_port: int, raw_key: str, rate: float, count: int,
                      posters: int) -> dict:
    arrivals: dict[str, float] = {}
    since_commit: dict[str, float] = {}  # wall clock: arrival minus the envelope's commit ts
    all_arrived = asyncio.Event()
    expected: set[str] = set()

    async with websockets.connect(
        f"ws://127.0.0.1:{ws_port}/ws/usage/", additional_headers={"Authorization": f"Bearer {raw_key}"},
        max_queue=None,
    ) as ws:
        async def receive() -> None:
            async for text in ws:
                arrived = time.perf_counter()
                wall = time.time()
                event = json.loads(text)
                arrivals[event["data"]["request_id"]] = arrived
                since_commit[event["data"]["request_id"]] = wall - event["ts"]
                if expected and expected <= arrivals.keys():
                    all_arrived.set()

        receiver = asyncio.create_task(receive())
        poster = Poster(port, raw_key)
        loop = asyncio.get_running_loop()

        # Warm up connections and caches; not measured.
        for _ in range(20):
            await loop.run_in_executor(None, poster.post, record(f"warm-{uuid.uuid4()}"))
        await asyncio.sleep(0.5)

        returned: dict[str, tuple[float, float]] = {}

        def steady(own: Poster, share: int) -> None:
            # Each poster keeps rate/posters; together they post ``count`` records at ``rate``.
            for _ in paced(rate / posters, share):
                rid = f"steady-{uuid.uuid4()}"
                status, start, end = own.post(record(rid))
                assert status == 201, status
                returned[rid] = (start, end)

        began = time.perf_counter()
        await asyncio.gather(*(loop.run_in_executor(None, steady, Poster(port, raw_key), count // posters)
                               for _ in range(posters)))
        achieved = len(returned) / (time.perf_counter() - began)
        expected.update(returned)
        if not expected <= arrivals.keys():
            try:
                await asyncio.wait_for(all_arrived.wait(), 10)
            except TimeoutError:
                pass
        after_return = [arrivals[r] - end for r, (_, end) in returned.items() if r in arrivals]
        after_send = [arrivals[r] - start for r, (start, _) in returned.items() if r in arrivals]
        post_times = [end - start for start, end in returned.values()]
        commit_to_event = [since_commit[r] for r in returned if r in since_commit]

        # One 1000-record batch: the response must not wait for its 1000 events.
        all_arrived.clear()
        batch_ids = [f"batch-{uuid.uuid4()}" for _ in range(1000)]
        expected.clear()
        expected.update(batch_ids)
        status, start, end = await loop.run_in_executor(
            None, poster.post, {"records": [record(r) for r in batch_ids]}
        )
        assert status == 207, status
        try:
            await asyncio.wait_for(all_arrived.wait(), 30)
        except TimeoutError:
            pass
        batch_arrivals = [arrivals[r] for r in batch_ids if r in arrivals]
        receiver.cancel()
        return {
            "count": count,
            "achieved_rate": achieved,
            "received": len(after_return),
            "after_return": after_return,
            "after_send": after_send,
            "post_times": post_times,
            "commit_to_event": commit_to_event,
            "batch_post": end - start,
            "batch_received": len(batch_arrivals),
            "batch_first_after_return": min(batch_arrivals) - end if batch_arrivals else None,
            "batch_last_after_return": max(batch_arrivals) - end if batch_arrivals else None,
        }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--posters", type=int, default=8, help="client threads posting, each at rate/posters")
    return parser.parse_args()


# A script: Django is set up (from the environment below) before the project's modules are imported.
ARGS = parse_args()
ENV = {
    "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DB),
    "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS),
    "NETRA_EMBEDDED_BEAT": "0",
    "LOG_LEVEL": "WARNING",
    "DEBUG": "False",
    "SECRET_KEY": "bench-" + uuid.uuid4().hex,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from core import events  # noqa: E402
from ingestion.services import usage_announce  # noqa: E402
from tokens.models import ModelPrice, UsageRecord  # noqa: E402
from tokens.services import api_key_create  # noqa: E402


def setup_data() -> tuple[str, float]:
    call_command("migrate", verbosity=0)
    if not ModelPrice.objects.filter(name="gpt-4o").exists():
        call_command("import_prices", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-live")
    _, raw = api_key_create(user=user, name="bench-live")
    announce = announce_cost(user)
    connections.close_all()
    return raw, announce


def announce_cost(user) -> float:
    """What a 1000-record batch spends on its live events inside the request (median of 5)."""
    now = timezone.now()
    records = [
        UsageRecord(user=user, request_id=f"announce-{i}", agent="bench", model="gpt-4o", input_tokens=1200,
                    output_tokens=80, total_tokens=1280, cost_usd=Decimal("0.0038"), priced=True,
                    occurred_at=now)
        for i in range(1000)
    ]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        usage_announce(records=records)  # outside a transaction: hands over at once
        times.append(time.perf_counter() - start)
        events.flush(10)
    return statistics.median(times)


def main() -> None:
    args, env = ARGS, ENV
    count = int(args.rate * args.seconds)
    raw_key, announce = setup_data()

    server = ServeSet(env={**os.environ, **env})
    try:
        server.wait_ready(raw_key)
        print(f"raw Redis pub/sub: {count} messages at {args.rate:g}/s ...", flush=True)
        raw = raw_pubsub(env["REDIS_URL"], args.rate, count)
        print(f"project: {count} POSTs at {args.rate:g}/s, events to one WebSocket client ...", flush=True)
        result = asyncio.run(project_run(server.port, server.ws_port, raw_key, args.rate, count,
                                         args.posters))
    finally:
        server.stop()

    ar, asend, pt = result["after_return"], result["after_send"], result["post_times"]
    rows = [
        ("raw Redis pub/sub, publish -> subscriber", raw),
        ("POST returned -> token_usage event at the WebSocket", ar),
        ("POST sent -> token_usage event at the WebSocket", asend),
        ("commit -> token_usage event at the WebSocket", result["commit_to_event"]),
        ("POST round trip (for reference)", pt),
    ]
    print()
    print(f"| at {args.rate:g} events/s, {count} each | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|")
    for name, values in rows:
        print(f"| {name} | {ms(statistics.median(values))} | {ms(percentile(values, 99))} | {ms(max(values))} |")
    early = sum(1 for v in ar if v < 0)
    print()
    print(f"events received: {result['received']}/{count}; {early} arrived before their POST's response did; "
          f"posted at {result['achieved_rate']:.0f}/s by {args.posters} clients (asked {args.rate:g}/s)")
    print(f"p99 ratio to raw pub/sub: {percentile(ar, 99) / percentile(raw, 99):.1f}x (after return), "
          f"{percentile(asend, 99) / percentile(raw, 99):.1f}x (after send)")
    print(f"1000-record batch: POST took {ms(result['batch_post'])} ms "
          f"(of which announcing on commit: {ms(announce)} ms); {result['batch_received']}/1000 events; "
          f"first {ms(result['batch_first_after_return'] or 0)} ms and last "
          f"{ms(result['batch_last_after_return'] or 0)} ms after the response returned")


if __name__ == "__main__":
    main()
