"""Idle live sockets on the production stack: N sockets held open for 10 minutes, how many closed.

Two daphne processes share one port (SO_REUSEPORT, as behind a load balancer) with a Redis
channel layer of this script's own and a throwaway PostgreSQL database (``test_<name>`` of
DATABASE_URL). N WebSocket clients (bearer keys of two customers, no client pings: nothing but
the server's own keepalive crosses the wire) stay idle for ``--seconds``. ``--restart-redis-at S``
kills Redis S seconds in and starts it again (every group is lost). At the end each customer
posts one usage record through the HTTP API; every socket still open must receive its owner's
``token_usage`` event (through Redis, from whichever process served the post).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_idle .venv/bin/python bench/idle_sockets.py
    ... bench/idle_sockets.py --sockets 50 --seconds 600 --restart-redis-at 300

Exits 1 when a socket closed or missed its event. Figures: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.test_settings")
os.environ.setdefault("NETRA_EMBEDDED_BEAT", "0")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netra_idle")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from harness import Server, scratch_database  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.factories import UserFactory  # noqa: E402
from tests.private_redis import PrivateRedis  # noqa: E402
from tokens.services import api_key_create, prices_import  # noqa: E402


class Socket:
    def __init__(self, index: int, user: str, key: str) -> None:
        self.index, self.user, self.key = index, user, key
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.resyncs = 0
        self.final_event = asyncio.Event()

    async def hold(self, port: int, started: float, request_id: str) -> None:
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws/usage/", ping_interval=None,
                               additional_headers={"Authorization": f"Bearer {self.key}"}) as ws:
                async for text in ws:
                    event = json.loads(text)
                    if event["type"] == "resync":
                        self.resyncs += 1
                    elif event["type"] == "token_usage" and event["data"]["request_id"] == request_id:
                        self.final_event.set()
                self.close_code = ws.close_code
        except Exception as exc:  # refused or dropped: counted as closed
            self.close_code = getattr(exc, "code", None) or type(exc).__name__
        self.closed_at = time.monotonic() - started


def post_usage(port: int, key: str, request_id: str) -> None:
    body = json.dumps({"request_id": request_id, "model": "gpt-4o-mini", "agent": "idle-bench",
                       "usage": {"prompt_tokens": 10, "completion_tokens": 2}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/usage", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201, response.status


async def scenario(args, port: int, keys: dict[str, str], redis: PrivateRedis) -> list[Socket]:
    users = list(keys)
    request_ids = {user: f"idle-final-{user}-{int(time.time())}" for user in users}
    sockets = [Socket(i, users[i % len(users)], keys[users[i % len(users)]]) for i in range(args.sockets)]
    started = time.monotonic()
    tasks = [asyncio.create_task(s.hold(port, started, request_ids[s.user])) for s in sockets]
    await asyncio.sleep(3)  # every socket connected and joined
    print(f"{sum(s.closed_at is None for s in sockets)}/{len(sockets)} sockets open; idle for {args.seconds:.0f} s",
          flush=True)
    restarted = args.restart_redis_at is None
    while time.monotonic() - started < args.seconds:
        await asyncio.sleep(5)
        if not restarted and time.monotonic() - started >= args.restart_redis_at:
            await asyncio.to_thread(redis.restart)
            restarted = True
            print(f"{time.monotonic() - started:.0f} s: Redis killed and started again", flush=True)
        open_now = sum(s.closed_at is None for s in sockets)
        if open_now < len(sockets) or int(time.monotonic() - started) % 60 < 5:
            print(f"{time.monotonic() - started:.0f} s: {open_now} open", flush=True)
    for user in users:
        await asyncio.to_thread(post_usage, port, keys[user], request_ids[user])
    await asyncio.wait([asyncio.create_task(s.final_event.wait()) for s in sockets if s.closed_at is None],
                       timeout=15)
    for task in tasks:
        task.cancel()
    return sockets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=2, help="daphne processes on one port (default 2)")
    parser.add_argument("--restart-redis-at", type=float, default=None, help="seconds into the hold")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/idle_sockets.py runs on PostgreSQL: set DATABASE_URL.")
    redis = PrivateRedis().start()
    try:
        with scratch_database():
            catalog = ROOT / "tokens" / "data" / "default_catalog.json"
            prices_import(data=json.loads(catalog.read_text(), parse_float=Decimal), source=catalog.name)
            keys = {name: api_key_create(user=UserFactory(username=name), name="idle")[1]
                    for name in ("alice", "bob")}
            db = connection.settings_dict
            env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                                                 f"{db['PORT'] or 5432}/{db['NAME']}",
                   "REDIS_URL": redis.url, "DJANGO_SETTINGS_MODULE": "netra_site.settings", "DEBUG": "false",
                   "SECRET_KEY": "bench-only-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                   "LOG_LEVEL": "WARNING"}
            server = Server(env=env, workers=args.workers)
            try:
                server.wait_ready(keys["alice"])
                sockets = asyncio.run(scenario(args, server.port, keys, redis))
            finally:
                server.stop()  # before the database is dropped
    finally:
        redis.stop()
    closed = [s for s in sockets if s.closed_at is not None]
    missed = [s for s in sockets if s.closed_at is None and not s.final_event.is_set()]
    print()
    print("| sockets | daphne processes | idle for | Redis restarted at | closed while idle | "
          "got the final event | resyncs |")
    print("|---|---|---|---|---|---|---|")
    restart = f"{args.restart_redis_at:.0f} s" if args.restart_redis_at is not None else "no"
    print(f"| {len(sockets)} | {args.workers} | {args.seconds:.0f} s | {restart} | {len(closed)} "
          f"| {len(sockets) - len(closed) - len(missed)}/{len(sockets) - len(closed)} "
          f"| {sum(s.resyncs for s in sockets)} |")
    if closed:
        print("closed:", Counter(str(s.close_code) for s in closed), [f"{s.closed_at:.0f} s" for s in closed][:10])
    return 1 if closed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
