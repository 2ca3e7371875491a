"""Faults on the production stack: the server killed and Redis killed while the SDK posts usage.

A daphne server of the test's own (its database is the test database) with a Redis of the
test's own; the SDK posts 2,000 records one at a time. The server is killed with SIGKILL
mid-load and started again, then Redis is killed and started again. Every record must be
stored exactly once, and the daily rollup must count each once.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

import pytest
from django.db import connection

from analytics.models import DailyUsage
from netra_client import NetraClient
from tests.e2e.conftest import DaphneServer
from tokens.models import UsageRecord
from tokens.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = 2000


def record(i: int) -> dict:
    return {"request_id": f"fault-{i}", "model": "gpt-4o-mini", "agent": "faults",
            "usage": {"prompt_tokens": 100 + i % 7, "completion_tokens": 10}}


def kill(server: DaphneServer) -> None:
    server.proc.kill()  # SIGKILL: no graceful shutdown, requests in flight are cut
    server.proc.wait(10)
    server.proc = None


def stored_counts(tmp_path, user) -> tuple[int, int, int]:
    """(records, distinct request ids, requests in the rollup) as the server stored them."""
    if connection.vendor == "sqlite":  # the server wrote to its own copy of the test database
        with closing(sqlite3.connect(tmp_path / "e2e.sqlite3")) as db:
            rows, distinct = db.execute(
                "SELECT count(*), count(DISTINCT request_id) FROM tokens_usagerecord WHERE user_id = ?",
                [user.pk]).fetchone()
            rollup = db.execute("SELECT coalesce(sum(requests), 0) FROM analytics_dailyusage WHERE user_id = ?",
                                [user.pk]).fetchone()[0]
            return rows, distinct, rollup
    qs = UsageRecord.objects.filter(user=user)
    rollup = sum(DailyUsage.objects.filter(user=user).values_list("requests", flat=True))
    return qs.count(), qs.values("request_id").distinct().count(), rollup


def test_nothing_lost_or_duplicated_when_the_server_and_redis_are_killed(tmp_path, private_redis, user, catalog):
    _, raw_key = api_key_create(user=user, name="faults")
    server = DaphneServer(tmp_path)
    server.env["REDIS_URL"] = private_redis.url
    server.start()
    client = NetraClient(server.url, raw_key, timeout=2, retries=1, backoff=0.05, flush_interval=0.5)
    events = {500: lambda: kill(server), 650: server.start, 1200: private_redis.stop, 1400: private_redis.start}
    try:
        for i in range(RECORDS):
            if i in events:
                events[i]()
            client.usage_send(record(i))
        deadline = time.monotonic() + 60
        while client.flush() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.pending == 0
    finally:
        client.close(flush=False)
        server.stop()
    assert stored_counts(tmp_path, user) == (RECORDS, RECORDS, RECORDS)
