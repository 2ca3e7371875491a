"""Budget enforcement benchmark: reserve-then-commit cycles per second, p50/p99, zero overspend.

Run on PostgreSQL (only against 127.0.0.1):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_budgets .venv/bin/python bench/budgets.py

One cycle is what an agent does per model call: ``POST /budgets/check`` with
``reserve: true``, then ``POST /usage`` carrying the ``reservation_id`` (the
commit). Measured with 1, 8 and 32 concurrent agents, on one hot budget
(every agent shares it) and on 32 budgets (agent i uses budget i mod 32),
twice: calling the services directly from threads, and through HTTP against
the serving set ``make serve`` starts (gunicorn, ``--servers`` HTTP processes).
Beside them, the raw conditional UPDATE of a counter row
(``... WHERE consumed + n <= limit``, ../shared/LIMITS.md) in the same run.

After every run it verifies: no budget's committed + live reserved passes its
limit, every window counter equals the ledger's sum, and no hold is left.
The framework floor (a 401 touching no table; wrk, 8 connections) is measured on
the same server after each HTTP run: a cycle is two requests.
Runtime is bounded: about 3 s per measurement (``--seconds``), ~2 minutes total.
At most BENCH_MAX_CONNECTIONS (16) PostgreSQL connections per side: the server
is shared, so 32 agents queue on a pool, for the services and the raw baseline alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
os.environ.setdefault("NETRA_EMBEDDED_BEAT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The price catalog reloads under a process-wide lock while it queries; with 32 threads on a
# 16-connection pool a reload mid-run can wait for a connection held by a thread waiting on that
# lock (until the pool times out). Nothing changes prices during the run, so load it once.
os.environ.setdefault("NETRA_CATALOG_CACHE_SECONDS", "3600")
# DEBUG would keep every SQL query in memory and slow both sides down.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

# The PostgreSQL server is shared: cap this process at MAX_CONNECTIONS through a pool, so 32 agents
# queue for 16 connections (as behind pgbouncer) instead of failing with "too many clients".
MAX_CONNECTIONS = int(os.environ.get("BENCH_MAX_CONNECTIONS", "16"))
from django.conf import settings as _settings  # noqa: E402

if _settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
    _settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    _settings.DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": MAX_CONNECTIONS, "max_size": MAX_CONNECTIONS, "timeout": 60,
    }

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Sum  # noqa: E402
from harness import ServeSet, percentile  # noqa: E402

from budgets.models import Budget, BudgetWindow, Reservation, ReservationHold  # noqa: E402
from budgets.selectors import budget_figures  # noqa: E402
from budgets.services import budget_check, budget_create  # noqa: E402
from ingestion.services import usage_ingest  # noqa: E402
from tokens.models import ApiKey, UsageRecord  # noqa: E402
from tokens.services import api_key_create  # noqa: E402

PREFIX = "bench-budgets-"
INPUT, OUTPUT_CAP, ACTUAL_OUTPUT = 100, 50, 40  # each cycle holds 150 tokens and commits 140
HOT_LIMIT_CYCLES, SPREAD_LIMIT_CYCLES = 30_000, 3_000


# --- setup and verification --------------------------------------------------------------------


def cleanup() -> None:
    users = get_user_model().objects.filter(username__startswith=PREFIX)
    UsageRecord.objects.filter(user__in=users).delete()
    Reservation.objects.filter(user__in=users).delete()
    Budget.objects.filter(user__in=users).delete()
    ApiKey.objects.filter(user__in=users).delete()
    users.delete()


def make_budgets(run: str, layout: str, agents: int) -> list[tuple]:
    """(user, budget, raw_key) per agent; layout "none" gives users without a budget."""
    User = get_user_model()
    count = 32 if layout == "spread" else 1
    limit = (HOT_LIMIT_CYCLES if layout == "hot" else SPREAD_LIMIT_CYCLES) * (INPUT + OUTPUT_CAP)
    owners = []
    for i in range(count):
        user = User.objects.create(username=f"{PREFIX}{run}-{i}")
        budget = None if layout == "none" else budget_create(
            by=None, scope="user", user=user, period="day", limit_tokens=limit, thresholds=[100])
        _, raw = api_key_create(user=user, name="bench")
        owners.append((user, budget, raw))
    return [owners[i % count] for i in range(agents)]


def verify(budgets: list[Budget]) -> dict:
    """Zero overspend: committed + live reserved <= limit; counters == ledger; no hold left."""
    problems = []
    for item, budget in zip(budget_figures(budgets=budgets), budgets, strict=True):
        if item["spent_tokens"] + item["reserved_tokens"] > budget.limit_tokens:
            problems.append(f"budget {budget.pk} overspent: {item['spent_tokens']}+{item['reserved_tokens']}")
        ledger = UsageRecord.objects.filter(user_id=budget.user_id).aggregate(t=Sum("total_tokens"))["t"] or 0
        counter = BudgetWindow.objects.filter(budget=budget).aggregate(t=Sum("spent_tokens"))["t"] or 0
        if ledger != counter:
            problems.append(f"budget {budget.pk}: counter {counter} != ledger {ledger}")
    left = ReservationHold.objects.filter(budget__in=budgets, active=True).count()
    if left:
        problems.append(f"{left} holds left active")
    return {"ok": not problems, "problems": problems}


# --- the three ways to drive load ------------------------------------------------------------------


def run_threads(agents: int, seconds: float, cycle) -> dict:
    """Run ``cycle(i, n)`` in ``agents`` threads for ``seconds``; gather latencies."""
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(agents)
    lat: list[list[float]] = [[] for _ in range(agents)]
    parts: list[list[tuple[float, float]]] = [[] for _ in range(agents)]
    denied = [0] * agents
    errors: list[str] = []

    def worker(i: int) -> None:
        n = 0
        try:
            barrier.wait()
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                ok, split = cycle(i, n)
                lat[i].append(time.perf_counter() - t0)
                if split:
                    parts[i].append(split)
                if not ok:
                    denied[i] += 1
                n += 1
        except Exception as exc:  # reported, never hidden
            errors.append(repr(exc))
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for xs in lat for x in xs]
    split = [x for xs in parts for x in xs]
    return {
        "cycles": len(flat), "per_s": len(flat) / elapsed, "p50_ms": percentile(flat, 50) * 1000,
        "p99_ms": percentile(flat, 99) * 1000, "denied": sum(denied), "errors": errors[:3],
        "check_p50_ms": percentile([s[0] for s in split], 50) * 1000 if split else None,
        "commit_p50_ms": percentile([s[1] for s in split], 50) * 1000 if split else None,
    }


def service_cycle(owners: list[tuple], run: str):
    def cycle(i: int, n: int):
        try:
            return _cycle(i, n)
        finally:
            # Give the pooled connection back after each cycle, as a request does when it ends.
            connection.close()

    def _cycle(i: int, n: int):
        user = owners[i][0]
        t0 = time.perf_counter()
        check = budget_check(user=user, agent=f"a{i}", model="gpt-4o", input_tokens=INPUT,
                             max_output_tokens=OUTPUT_CAP, reserve=True)
        t1 = time.perf_counter()
        if not check.allowed:
            return False, None
        (result,) = usage_ingest(user=user, api_key=None, payloads=[{
            "request_id": f"{run}-{i}-{n}", "model": "gpt-4o", "agent": f"a{i}", "prompt_tokens": INPUT,
            "completion_tokens": ACTUAL_OUTPUT, "reservation_id": str(check.reservation.pk),
        }])
        assert result.status == "created", result.errors
        return True, (t1 - t0, time.perf_counter() - t1)

    return cycle


def ingest_only_cycle(owners: list[tuple], run: str):
    def cycle(i: int, n: int):
        try:
            (result,) = usage_ingest(user=owners[i][0], api_key=None, payloads=[{
                "request_id": f"{run}-{i}-{n}", "model": "gpt-4o", "agent": f"a{i}", "prompt_tokens": INPUT,
                "completion_tokens": ACTUAL_OUTPUT,
            }])
            assert result.status == "created", result.errors
            return True, None
        finally:
            connection.close()

    return cycle


def http_cycle(owners: list[tuple], run: str, ports: list[int]):
    local = threading.local()

    def post(conn, path: str, body: dict, key: str) -> tuple[int, dict]:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            raise RuntimeError(f"{path} answered {response.status}: {raw[:200]!r}") from None

    def cycle(i: int, n: int):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", ports[i % len(ports)], timeout=60)
        key = owners[i][2]
        t0 = time.perf_counter()
        status, check = post(local.conn, "/api/v1/budgets/check", {
            "agent": f"a{i}", "model": "gpt-4o", "estimated_input_tokens": INPUT,
            "max_output_tokens": OUTPUT_CAP, "reserve": True}, key)
        t1 = time.perf_counter()
        assert status == 200, check
        if not check["allowed"]:
            return False, None
        status, body = post(local.conn, "/api/v1/usage", {
            "request_id": f"{run}-{i}-{n}", "model": "gpt-4o", "agent": f"a{i}", "prompt_tokens": INPUT,
            "completion_tokens": ACTUAL_OUTPUT, "reservation_id": check["reservation"]["id"]}, key)
        assert status == 201, body
        return True, (t1 - t0, time.perf_counter() - t1)

    return cycle


def raw_update(agents: int, seconds: float, rows: int) -> dict:
    """The ceiling: psycopg autocommit ``UPDATE ... SET consumed = consumed + n WHERE consumed + n <= lim``."""
    import psycopg

    dsn = settings.DATABASES["default"]
    conninfo = dict(host=dsn["HOST"] or "127.0.0.1", port=dsn["PORT"] or 5432, user=dsn["USER"],
                    password=dsn["PASSWORD"] or None, dbname=dsn["NAME"])
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_budgets_raw")
        conn.execute("CREATE TABLE bench_budgets_raw (id int primary key, consumed bigint not null, lim bigint)")
        conn.execute("INSERT INTO bench_budgets_raw SELECT g, 0, 1000000000000 FROM generate_series(0, %s) g",
                     (rows - 1,))
    from psycopg.conninfo import make_conninfo
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(make_conninfo(**{k: v for k, v in conninfo.items() if v is not None}),
                          min_size=1, max_size=min(agents, MAX_CONNECTIONS), kwargs={"autocommit": True},
                          timeout=60, open=True)

    def cycle(i: int, n: int):
        with pool.connection() as conn:
            cur = conn.execute(
                "UPDATE bench_budgets_raw SET consumed = consumed + 150 WHERE id = %s AND consumed + 150 <= lim",
                (i % rows,))
            return cur.rowcount == 1, None

    try:
        return run_threads(agents, seconds, cycle)
    finally:
        pool.close()
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_budgets_raw")


def start_servers(count: int) -> tuple[ServeSet, Path]:
    """The serving set with ``count`` HTTP processes, each with a small pool (the server is shared)."""
    settings_dir = Path(tempfile.mkdtemp(prefix="bench-budgets-"))
    (settings_dir / "bench_budgets_settings.py").write_text(
        "from netra_site.settings import *  # noqa\n"
        "DATABASES['default']['CONN_MAX_AGE'] = 0\n"
        "DATABASES['default'].setdefault('OPTIONS', {})['pool'] = "
        f"{{'min_size': 1, 'max_size': {max(4, MAX_CONNECTIONS // count)}, 'timeout': 60}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="bench_budgets_settings", PYTHONPATH=f"{settings_dir}{os.pathsep}{ROOT}")
    return ServeSet(env=env, workers=count), settings_dir


def floor_rate(port: int, seconds: int = 3) -> float | None:
    """Requests/s of a 401 (GET /api/v1/usage without a key) from wrk, 8 connections; None without wrk."""
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", f"http://127.0.0.1:{port}/api/v1/usage"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


# --- main -------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    parser.add_argument("--agents", default="1,8,32")
    parser.add_argument("--servers", type=int, default=2, help="HTTP processes (gunicorn workers)")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("bench/budgets.py measures PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 2
    call_command("migrate", verbosity=0)
    if not __import__("tokens.models", fromlist=["ModelPrice"]).ModelPrice.objects.filter(name="gpt-4o").exists():
        call_command("import_prices", verbosity=0)
    cleanup()
    agents_list = [int(a) for a in args.agents.split(",")]
    rows = []
    all_ok = True
    server, settings_dir, floors = None, None, {}
    try:
        ports: list[int] = []
        if not args.skip_http:
            server, settings_dir = start_servers(args.servers)
            server.wait_listening()
            ports = [server.port]
        for layout in ("hot", "spread"):
            for agents in agents_list:
                raw = raw_update(agents, args.seconds, 1 if layout == "hot" else 32)
                rows.append(("raw UPDATE", layout, agents, raw, None))
                modes = [("service", service_cycle)] + ([] if args.skip_http else [("http", None)])
                for mode, _ in modes:
                    run = f"{mode[0]}{layout[0]}{agents}-{int(time.time())}"
                    owners = make_budgets(run, layout, agents)
                    cycle = (service_cycle(owners, run) if mode == "service"
                             else http_cycle(owners, run, ports))
                    cycle(0, -1)  # warm the catalog and connections, outside the clock
                    result = run_threads(agents, args.seconds, cycle)
                    check = verify(list({o[1].pk: o[1] for o in owners}.values()))
                    all_ok &= check["ok"] and not result["errors"]
                    rows.append((mode, layout, agents, result, check))
                    if mode == "http":  # the stack's own ceiling on the same server, right after
                        floors[(layout, agents)] = floor_rate(server.port)
                        print(f"floor: {floors[(layout, agents)]} requests/s (401, 8 connections)", flush=True)
                    print(f"{mode:10} {layout:6} {agents:>2} agents: {result['per_s']:8.0f}/s "
                          f"p50 {result['p50_ms']:6.1f} ms p99 {result['p99_ms']:6.1f} ms "
                          f"denied {result['denied']} "
                          f"{'overspend check OK' if check['ok'] else check['problems']} {result['errors']}",
                          flush=True)
                print(f"{'raw UPDATE':10} {layout:6} {agents:>2} conns : {raw['per_s']:8.0f}/s "
                      f"p50 {raw['p50_ms']:6.1f} ms p99 {raw['p99_ms']:6.1f} ms", flush=True)
                if layout == "hot":
                    # Where the time goes: the commit half of a cycle is the metering core's own
                    # ingestion; measure it alone (no budget applies) in the same run.
                    run = f"i{agents}-{int(time.time())}"
                    owners = make_budgets(run, "none", agents)
                    cycle = ingest_only_cycle(owners, run)
                    cycle(0, -1)
                    result = run_threads(agents, args.seconds, cycle)
                    all_ok &= not result["errors"]
                    rows.append(("ingest only", "none", agents, result, None))
                    print(f"{'ingest only':10}        {agents:>2} agents: {result['per_s']:8.0f}/s "
                          f"p50 {result['p50_ms']:6.1f} ms p99 {result['p99_ms']:6.1f} ms {result['errors']}",
                          flush=True)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(settings_dir, ignore_errors=True)
        cleanup()
    print()
    print("| driver | budgets | agents | cycles/s | p50 ms | p99 ms | check p50 | commit p50 | vs raw | vs floor "
          "| overspend |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    raw_rate = {(r[1], r[2]): r[3]["per_s"] for r in rows if r[0] == "raw UPDATE"}
    for mode, layout, agents, res, check in rows:
        base = raw_rate[("hot" if layout == "none" else layout, agents)]
        ratio = "" if mode == "raw UPDATE" else f"{res['per_s'] / base * 100:.0f}%"
        split = ("", "") if res["check_p50_ms"] is None else (f"{res['check_p50_ms']:.1f}",
                                                              f"{res['commit_p50_ms']:.1f}")
        verdict = "" if check is None else ("none" if check["ok"] else "FAILED")
        label = {"hot": "1 hot", "spread": "32", "none": "none"}[layout]
        floor = floors.get((layout, agents)) if mode == "http" else None
        vs_floor = f"{res['per_s'] / floor * 100:.0f}% of {floor:,.0f}" if floor else ""
        print(f"| {mode} | {label} | {agents} | {res['per_s']:.0f} | {res['p50_ms']:.1f} | {res['p99_ms']:.1f} "
              f"| {split[0]} | {split[1]} | {ratio} | {vs_floor} | {verdict} |")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
