#!/usr/bin/env python3
"""Concurrent batches of one user over HTTP: N clients post 1000-record batches at once, with the same
runs, days, budgets and some of each other's request_ids; every answer's status is counted and every
record, rollup and budget window is checked against the ledger afterwards.

    .venv/bin/python bench/ingest_concurrent.py [--database-url postgres://postgres@127.0.0.1:5432/netra_an_ingest]
                                                [--clients 3] [--records 100000] [--workers 2]

Drops and recreates the database, migrates, imports the catalog, creates the user, a key, a monthly
user budget and a daily per-agent budget, serves the app with ``--workers`` daphne processes and posts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
from harness import Server
from ingest import PYTHON, recreate_database, run

BATCH = 1000
AGENTS = ("planner", "writer", "coder")
BUDGETS = (
    "from budgets.services import budget_create; from django.contrib.auth import get_user_model; "
    "u = get_user_model().objects.get(username='bench'); "
    "budget_create(by=None, scope='user', user=u, period='month', limit_usd=10**6); "
    "budget_create(by=None, scope='user_agent', user=u, agent='planner', period='day', limit_tokens=10**12)"
)


def batch_of(client: int, number: int, clients: int, now: datetime) -> list[dict]:
    """Records interleaved across clients (the same runs and days in concurrent batches), 5% of them
    repeating the previous client's request_ids."""
    out = []
    for i in range(BATCH):
        g = (number * clients * BATCH) + i * clients + client
        owner = (client - 1) % clients if i % 20 == 0 else client
        out.append({
            "request_id": f"c{owner}-{number}-{i}", "model": "gpt-4o", "agent": AGENTS[g % 3],
            "tool": ("", "search")[g % 2], "run_id": f"run-{g // 15}",
            "occurred_at": (now - timedelta(days=g % 90, seconds=g % 3600)).isoformat().replace("+00:00", "Z"),
            "prompt_tokens": 1000 + g % 500, "completion_tokens": 100 + g % 50,
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/netra_an_ingest")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--records", type=int, default=100_000, help="records per client")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=args.database_url, DEBUG="False", SECRET_KEY="bench-" + uuid.uuid4().hex,
               ALLOWED_HOSTS="127.0.0.1,localhost", NETRA_EMBEDDED_BEAT="0", LOG_LEVEL="WARNING")
    recreate_database(args.database_url)
    run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    run([PYTHON, "manage.py", "import_prices"], env)
    key = run([PYTHON, "manage.py", "create_api_key", "bench", "--create-user", "--name", "bench"],
              env).strip().splitlines()[-1]
    run([PYTHON, "manage.py", "shell", "-c", BUDGETS], env)
    server = Server(env=env, workers=args.workers)
    statuses: Counter = Counter()
    errors: list[str] = []
    latencies: list[float] = []
    now = datetime.now(UTC) - timedelta(minutes=5)
    batches = args.records // BATCH
    try:
        server.wait_ready(key)
        barrier = threading.Barrier(args.clients)

        def client(c: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
            barrier.wait()
            for b in range(batches):
                body = json.dumps({"records": batch_of(c, b, args.clients, now)})
                started = time.perf_counter()
                conn.request("POST", "/api/v1/usage", body=body, headers={
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                response = conn.getresponse()
                text = response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1
                if response.status >= 500:
                    errors.append(text[:300].decode(errors="replace"))

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        log = server.log_tail()
    finally:
        server.stop()
    posted = {f"c{c}-{b}-{i}" for c in range(args.clients) for b in range(batches) for i in range(BATCH)}
    with psycopg.connect(args.database_url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT request_id) FROM tokens_usagerecord").fetchone()
        checks = {
            "daily rollup = ledger": conn.execute(
                "SELECT (SELECT (sum(requests), sum(total_tokens), sum(cost_usd)) FROM analytics_dailyusage) = "
                "(SELECT (count(*)::numeric, sum(total_tokens), sum(cost_usd)) FROM tokens_usagerecord)").fetchone()[0],
            "run rollup = ledger": conn.execute(
                "SELECT NOT EXISTS (SELECT user_id, run_id, count(*), sum(total_tokens), sum(cost_usd), "
                "min(occurred_at), max(occurred_at) FROM tokens_usagerecord GROUP BY 1, 2 EXCEPT "
                "SELECT user_id, run_id, requests, total_tokens, cost_usd, first_at, last_at "
                "FROM analytics_runusage)").fetchone()[0],
            # Every record is charged to its month's window of the user budget.
            "user budget windows = ledger": conn.execute(
                "SELECT (SELECT sum(spent_usd) FROM budgets_budgetwindow w JOIN budgets_budget b ON b.id = "
                "w.budget_id WHERE b.scope = 'user') = (SELECT sum(cost_usd) FROM tokens_usagerecord)"
            ).fetchone()[0],
        }
    ordered = sorted(latencies)
    print(f"{args.clients} clients x {batches} batches of {BATCH} ({len(posted):,} distinct request_ids) "
          f"in {seconds:.1f}s: {sum(statuses.values()) * BATCH / seconds:,.0f} records/s; "
          f"batch p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms")
    print("HTTP statuses:", dict(statuses))
    print(f"stored {stored:,} rows, {distinct:,} distinct request_ids (expected {len(posted):,})")
    for name, ok in checks.items():
        print(f"{name}: {ok}")
    print(f"retries logged: {log.count('retrying')}; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for error in errors[:3]:
        print("5xx:", error)


if __name__ == "__main__":
    main()
