#!/usr/bin/env python3
"""Ingestion benchmark: POST /api/v1/usage against a running server, beside raw psycopg.

Prerequisites: PostgreSQL on 127.0.0.1 (a superuser that may create and drop
the bench database), the project's .venv, and Debian's wrk
(`apt-get install -y wrk`). Redis is optional (``--redis-url``).

    .venv/bin/python bench/ingest.py [--database-url postgres://postgres@127.0.0.1:5432/netra_ingest]
                                     [--workers 2] [--duration 5] [--rounds 5] [--batches 8]

What it does, in at most about three minutes:

1. drops and recreates the bench database, migrates it, imports the default
   catalog (``manage.py import_prices``) and creates a bench user with a key;
2. starts the production serving set as ``make serve`` does (``python -m
   netra_site.serve``: gunicorn on the HTTP port with ``--workers`` processes,
   daphne on the WebSocket port; DEBUG=False, SECRET_KEY and ALLOWED_HOSTS
   set), or with ``--server daphne`` ``--workers`` daphne processes sharing
   one port (SO_REUSEPORT), the embedded server, for comparison;
3. per round, measures, interleaved so drift hits both sides alike:
   - raw single: 8 threads, one psycopg connection each, one INSERT per
     transaction of a row cloned from one the server stored (same table,
     indexes, constraints and values; only id and request_id differ);
   - app single: wrk, 2 threads, 8 connections, one record per POST
     (bench/ingest_wrk.lua gives every request a unique request_id);
   - raw batch: one connection, executemany of 1000 such rows per transaction;
   - app batch: one client posting ``{"records": [...1000...]}`` back to back;
4. checks every posted record is stored exactly once, prints the medians and
   the ratios against the targets (single >= 25% of raw, batch >= 50%).

``--profile DIR`` also records a py-spy profile of the HTTP workers during
one extra single-post and one batch phase (needs ``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from harness import Server, ServeSet
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
WRK_SCRIPT = str(ROOT / "bench" / "ingest_wrk.lua")
CLIENTS = 8
BATCH = 1000


def record(request_id: str, run: str, n: int) -> dict:
    """The record both the wrk script and the batch client send."""
    return {
        "request_id": request_id,
        "model": "gpt-4o",
        "agent": "bench",
        "tool": "search",
        "run_id": run,
        "latency_ms": 840,
        "metadata": {"trace": str(n)},
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def run(cmd: list[str], env: dict) -> str:
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        sys.exit(f"unsafe database name {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- raw psycopg ------------------------------------------------------------------------


def template_row(url: str) -> tuple[list[str], list]:
    """Columns and values of one row the server stored, to clone for the raw inserts."""
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM tokens_usagerecord WHERE request_id LIKE 'warm-%' LIMIT 1")
        values = list(cur.fetchone())
        names = [d.name for d in cur.description]
    values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in values]
    return names, values


class RawRows:
    def __init__(self, names: list[str], values: list) -> None:
        self.values = values
        self.id_at = names.index("id")
        self.rid_at = names.index("request_id")
        cols = ", ".join(f'"{n}"' for n in names)
        marks = ", ".join(["%s"] * len(names))
        self.sql = f"INSERT INTO tokens_usagerecord ({cols}) VALUES ({marks})"

    def row(self, request_id: str) -> list:
        row = list(self.values)
        row[self.id_at] = uuid.uuid4()
        row[self.rid_at] = request_id
        return row


HOT_UPSERT = ("INSERT INTO bench_hot_counter (id, n) VALUES (1, 1) "
              "ON CONFLICT (id) DO UPDATE SET n = bench_hot_counter.n + 1")


def raw_single(url: str, rows: RawRows, *, seconds: float, prefix: str, hot: bool = False) -> tuple[float, int]:
    """One INSERT per transaction on CLIENTS connections for ``seconds``; with ``hot``, each transaction also
    upserts one shared counter row, as every post of one user upserts that user's daily rollup rows."""
    if hot:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_hot_counter (id int PRIMARY KEY, n bigint NOT NULL)")
    counts = [0] * CLIENTS
    conns = [psycopg.connect(url) for _ in range(CLIENTS)]
    start_line = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        conn, n = conns[i], 0
        start_line.wait()
        while not stop.is_set():
            n += 1
            conn.execute(rows.sql, rows.row(f"{prefix}-{i}-{n}"))
            if hot:
                conn.execute(HOT_UPSERT)
            conn.commit()
        counts[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    for conn in conns:
        conn.close()
    return sum(counts) / elapsed, sum(counts)


def raw_batch(url: str, rows: RawRows, *, batches: int, prefix: str) -> tuple[float, int]:
    """executemany of BATCH rows per transaction on one connection."""
    data = [[rows.row(f"{prefix}-{b}-{i}") for i in range(BATCH)] for b in range(batches)]
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        for chunk in data:
            with conn.cursor() as cur:
                cur.executemany(rows.sql, chunk)
            conn.commit()
        elapsed = time.perf_counter() - began
    return batches * BATCH / elapsed, batches * BATCH


# --- through the server ---------------------------------------------------------------------


def app_single(port: int, key: str, *, seconds: float, prefix: str) -> tuple[float, int, dict]:
    """wrk posting single records; with several comma-joined keys, one wrk thread (user) per key."""
    threads = max(2, key.count(",") + 1)
    proc = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{CLIENTS}", f"-d{seconds}s", "--timeout", "10s", "-s", WRK_SCRIPT,
         f"http://127.0.0.1:{port}/api/v1/usage", "--", key, prefix],
        capture_output=True, text=True,
    )
    if proc.returncode:
        sys.exit(f"wrk failed: {proc.stdout}{proc.stderr}")
    out = proc.stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line[len("WRK_JSON "):])
    created = data["statuses"].get("201", 0)
    if created != data["requests"]:
        sys.exit(f"wrk: not every request was stored: {data}")
    return created / (data["duration_us"] / 1e6), created, data


def app_floor(port: int, *, seconds: float) -> float:
    """Requests/s for an unauthenticated GET /api/v1/usage: the 401 passes daphne, every
    middleware, DRF and the error handler but touches no table. No ingestion can beat it."""
    proc = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", f"http://127.0.0.1:{port}/api/v1/usage"],
        capture_output=True, text=True, check=True,
    )
    return float(re.search(r"Requests/sec:\s+([\d.]+)", proc.stdout).group(1))


def app_batch(port: int, key: str, *, batches: int, prefix: str) -> tuple[float, int]:
    bodies = [
        json.dumps(
            {"records": [record(f"{prefix}-{b}-{i}", f"{prefix}-run-{b}", i) for i in range(BATCH)]}
        ).encode()
        for b in range(batches)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    began = time.perf_counter()
    for body in bodies:
        conn.request("POST", "/api/v1/usage", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 207:
            sys.exit(f"batch got {response.status}: {payload[:500]!r}")
        # The counts object closes the body; parsing all of it would bill the client's JSON to the server.
        counts = json.loads(payload[payload.rindex(b'"counts"') + 9:-1])
        if counts != {"created": BATCH, "duplicate": 0, "invalid": 0}:
            sys.exit(f"batch counts {counts}")
    elapsed = time.perf_counter() - began
    conn.close()
    return batches * BATCH / elapsed, batches * BATCH


def stored(url: str, prefix: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM tokens_usagerecord WHERE request_id LIKE %s", (prefix + "-%",)
        ).fetchone()[0]


def profile(server: Server, out_dir: Path, seconds: float, work) -> list[str]:
    """py-spy record every worker while ``work()`` runs; returns the written files."""
    pyspy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    files, spies = [], []
    for pid in server.http_pids():
        # Collapsed stacks of the thread holding the GIL (where Python CPU goes), one line
        # per stack with its sample count, for bench/profile_summary.py.
        path = out_dir / f"worker-{pid}.txt"
        spies.append(subprocess.Popen(
            [pyspy, "record", "--pid", str(pid), "--duration", str(int(seconds) + 2), "--rate", "250",
             "--format", "raw", "--gil", "--output", str(path), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ))
        files.append(str(path))
    time.sleep(1)
    work()
    for spy in spies:
        _, err = spy.communicate(timeout=60)
        if spy.returncode:
            print(f"py-spy failed: {err.decode()[-500:]}", file=sys.stderr)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/netra_ingest",
                        help="bench database; DROPPED and recreated")
    parser.add_argument("--redis-url", default="", help="REDIS_URL for the server (default: none)")
    parser.add_argument("--server", choices=("serve", "daphne"), default="serve",
                        help="serve: make serve's set (gunicorn HTTP); daphne: daphne processes on one port")
    parser.add_argument("--workers", type=int, default=2, help="HTTP processes (gunicorn workers or daphnes)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--duration", type=int, default=5, help="seconds per single-post phase")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=8, help="1000-record batches per batch phase")
    parser.add_argument("--users", type=int, default=1, choices=(1, 2, 4, 8),
                        help="single posts from this many users (1: every post updates one user's rollup rows)")
    parser.add_argument("--profile", metavar="DIR", help="also write py-spy profiles of the workers here")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")

    t0 = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=args.database_url, DEBUG="False", SECRET_KEY="bench-" + uuid.uuid4().hex,
        ALLOWED_HOSTS="127.0.0.1,localhost", NETRA_EMBEDDED_BEAT="0", LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    recreate_database(args.database_url)
    run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    run([PYTHON, "manage.py", "import_prices"], env)
    key = run([PYTHON, "manage.py", "create_api_key", "bench", "--create-user", "--name", "bench"],
              env).strip().splitlines()[-1]
    single_key = ",".join([key] + [
        run([PYTHON, "manage.py", "create_api_key", f"bench{i}", "--create-user", "--name", "bench"],
            env).strip().splitlines()[-1] for i in range(1, args.users)])
    print(f"set-up (database, migrate, catalog, key): {time.monotonic() - t0:.1f}s", flush=True)

    server = (ServeSet(env=env, workers=args.workers, port=args.port) if args.server == "serve"
              else Server(env=env, workers=args.workers, port=args.port))
    results: dict[str, list[float]] = {
        "raw_single": [], "raw_hot": [], "app_single": [], "raw_batch": [], "app_batch": [], "app_floor": []
    }
    expected: dict[str, int] = {}
    latencies = []
    try:
        server.wait_ready(key)
        # Warm-up: every worker loads the catalog and opens its connection.
        app_single(server.port, key, seconds=2, prefix="warm")
        app_batch(server.port, key, batches=2, prefix="warmb")
        rows = RawRows(*template_row(args.database_url))
        for r in range(args.rounds):
            for name, fn in (
                ("raw_single", lambda p: raw_single(args.database_url, rows, seconds=args.duration, prefix=p)),
                ("raw_hot", lambda p: raw_single(args.database_url, rows, seconds=args.duration, prefix=p,
                                                 hot=True)),
                ("app_single", lambda p: app_single(server.port, single_key, seconds=args.duration, prefix=p)),
                ("raw_batch", lambda p: raw_batch(args.database_url, rows, batches=args.batches, prefix=p)),
                ("app_batch", lambda p: app_batch(server.port, key, batches=args.batches, prefix=p)),
                ("app_floor", lambda p: (app_floor(server.port, seconds=3), 0)),
            ):
                prefix = f"{name}{r}"
                rate, n, *extra = fn(prefix)
                if extra:
                    latencies.append(extra[0]["latency_us"])
                results[name].append(rate)
                if n:
                    expected[prefix] = n
                    print(f"round {r + 1} {name:<10} {rate:9.0f} records/s ({n} records)", flush=True)
                else:
                    print(f"round {r + 1} {name:<10} {rate:9.0f} requests/s (401, no database)", flush=True)
        if args.profile:
            out = Path(args.profile)
            out.mkdir(parents=True, exist_ok=True)
            files = profile(server, out / "single", args.duration,
                            lambda: app_single(server.port, key, seconds=args.duration, prefix="profs"))
            files += profile(server, out / "batch", args.duration,
                             lambda: app_batch(server.port, key, batches=args.batches, prefix="profb"))
            print("profiles:", *files, sep="\n  ")
    finally:
        server.stop()

    for prefix, n in expected.items():
        got = stored(args.database_url, prefix)
        # wrk stops with up to one request per connection in flight; those are stored but not counted.
        slack = CLIENTS if prefix.startswith("app_single") else 0
        if not n <= got <= n + slack:
            sys.exit(f"{prefix}: {got} rows stored for {n} records")
    med = {k: statistics.median(v) for k, v in results.items()}

    def ratio(app: str, raw: str) -> float:
        # Median of per-round ratios: each pair ran back to back, so drift between rounds cancels.
        return statistics.median(a / r for a, r in zip(results[app], results[raw], strict=True))

    single, batch = ratio("app_single", "raw_single"), ratio("app_batch", "raw_batch")
    p50 = statistics.median(x["p50"] for x in latencies) / 1000
    p99 = statistics.median(x["p99"] for x in latencies) / 1000
    print()
    print(f"median of {args.rounds} rounds (ratio: median of per-round ratios), "
          f"{args.workers} {args.server} HTTP worker(s), every record stored exactly once")
    print("| path | records/s | raw psycopg, same rows | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| single posts, {CLIENTS} clients, {args.users} user(s) (wrk; p50 {p50:.1f} ms, p99 {p99:.1f} ms) | "
          f"{med['app_single']:,.0f} | {med['raw_single']:,.0f} (1 INSERT/txn, {CLIENTS} conns) | "
          f"{single:.0%} | >= 25% {'met' if single >= 0.25 else 'MISSED'} |")
    print(f"| {BATCH}-record batches, 1 client | {med['app_batch']:,.0f} | "
          f"{med['raw_batch']:,.0f} (executemany {BATCH}/txn) | {batch:.0%} | "
          f">= 50% {'met' if batch >= 0.5 else 'MISSED'} |")
    print(f"| raw: the same INSERT plus an upsert of one shared counter row per transaction, {CLIENTS} conns | "
          f"{med['raw_hot']:,.0f} | {med['raw_single']:,.0f} | {ratio('raw_hot', 'raw_single'):.0%} | "
          f"(single posts: {ratio('app_single', 'raw_hot'):.0%} of it) |")
    floor = ratio("app_floor", "raw_single")
    print(f"| framework floor: 401 for a GET without key, {CLIENTS} clients | {med['app_floor']:,.0f} requests/s | "
          f"{med['raw_single']:,.0f} | {floor:.0%} | (ceiling for single posts) |")
    print(f"total time {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
