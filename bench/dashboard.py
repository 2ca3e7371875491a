"""Dashboard at scale: 1,000,000 usage records, 1000 users, 90 days, PostgreSQL.

    DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py

Creates (drops first) the database ``netra_analytics_bench``, loads the ledger
with COPY, builds the DailyUsage rollup from it, then times in-process
requests (Django test client, no network): the dashboard page, the summary
API and the detailed report for one user, and the staff analytics overview.
Beside them it times the raw operations they are bounded by (LIMITS.md):
a per-user 30-day daily aggregate on the ledger and a whole-table 30-day
group by agent. ``--reuse`` keeps an already loaded database.

Users: 990 ordinary users share 900,000 records (~909 each, ~10 a day) and
10 heavy users have 10,000 each (~111 a day): a heavy user's pages are what
every user's pages would be at 10,000,000 records (see docs/analytics.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import django
import psycopg
from harness import percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "netra_analytics_bench"
AGENTS = ["planner", "researcher", "writer", "reviewer", "coder", "support", "triage", "analyst"]
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "o3-mini", "gemini-2.5-flash"]
TOOLS = ["", "search", "sql_query", "browse", "summarize", "call_api", "retrieve"]
TECHNIQUES = ["compress", "context_fit", "lean_template"]


def admin_url() -> str:
    return os.environ.get("DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def create_database(reuse: bool) -> bool:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and reuse:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return True


def setup_django() -> None:
    base = admin_url().rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{BENCH_DB}"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
    django.setup()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded bench database")
    return parser.parse_args()


# A script: the database and Django are set up before the project's modules can be imported.
ARGS = parse_args()
FRESH = create_database(ARGS.reuse)
setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from analytics.models import DailyUsage  # noqa: E402
from analytics.rollups import daily_usage_add, daily_usage_rebuild  # noqa: E402
from tokens.counts import TOKEN_FIELDS  # noqa: E402
from tokens.models import UsageRecord  # noqa: E402
from tokens.pricing import catalog, rates_for  # noqa: E402
from tokens.services import prices_import  # noqa: E402


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    ms = int(moment.timestamp() * 1000)
    rand = rng.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64 | 0b10 << 62
    return uuid.UUID(int=value | (rand & ((1 << 62) - 1)))


def load(records: int, users: int, days: int, seed: int) -> tuple[list, float]:
    """Users, catalog and the ledger (COPY). Returns (users, seconds spent in COPY)."""
    call_command("migrate", verbosity=0)
    path = Path(settings.BASE_DIR) / "tokens" / "data" / "default_catalog.json"
    prices_import(data=json.loads(path.read_text(), parse_float=Decimal), source="default_catalog.json")
    catalog.invalidate()
    User = get_user_model()
    User.objects.bulk_create(
        [User(username=f"bench{i:04d}", email=f"bench{i:04d}@example.com") for i in range(users)]
    )
    User.objects.create_superuser("bench-admin", "admin@example.com", "bench-admin-pw")
    user_rows = list(User.objects.filter(username__startswith="bench0").order_by("username"))
    heavy = 10
    heavy_each = records // 100  # 10 heavy users hold 10% of the ledger
    light_each = (records - heavy * heavy_each) / (users - heavy)

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    span = days * 86400
    prices = {m: catalog.latest(m) for m in MODELS}
    rates = {m: rates_for(p, 0) for m, p in prices.items()}
    columns = (
        "id",
        "user_id",
        "request_id",
        "run_id",
        "agent",
        "tool",
        "model",
        "provider",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_usd",
        "priced",
        "price_id",
        "optimization_technique",
        "original_tokens",
        "cache_hit",
        "latency_ms",
        "usage_format",
        "metadata",
        "occurred_at",
        "received_at",
        # The token classes added by the cost-truth work; this bench's calls have none of them.
        *(column for column in TOKEN_FIELDS if column not in (
            "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
            "total_tokens")),
        "units",
        "service_tier",
        "list_cost_usd",
    )
    extra_tokens = (0,) * (len(TOKEN_FIELDS) - 6)
    rows = []
    million = Decimal(1_000_000)
    for index, user in enumerate(user_rows):
        count = heavy_each if index < heavy else int(light_each * (index + 1)) - int(light_each * index)
        agents = rng.sample(AGENTS, 3)
        models = rng.sample(MODELS, 2)
        tools = rng.sample(TOOLS, 3)
        for n in range(count):
            moment = now - timedelta(seconds=rng.randrange(span))
            model = rng.choice(models)
            prompt = int(rng.lognormvariate(7.2, 0.6))
            cached = prompt // 2 if rng.random() < 0.3 else 0
            inp = prompt - cached
            out = int(rng.lognormvariate(5.6, 0.5))
            r = rates[model]
            cost = ((inp * r.input + cached * r.cache_read + out * r.output) / million).quantize(
                Decimal("1e-12")
            )
            technique = rng.choice(TECHNIQUES) if rng.random() < 0.1 else ""
            original = int(prompt * rng.uniform(1.0, 1.6)) if technique else None
            rows.append(
                (
                    uuid7_at(moment, rng),
                    user.pk,
                    f"b-{user.pk}-{n}",
                    f"run-{user.pk}-{n // 5}",
                    rng.choice(agents),
                    rng.choice(tools),
                    model,
                    prices[model].provider,
                    inp,
                    cached,
                    0,
                    out,
                    0,
                    inp + cached + out,
                    cost,
                    True,
                    prices[model].pk,
                    technique,
                    original,
                    rng.random() < 0.15,
                    rng.randrange(200, 4000),
                    "",
                    "{}",
                    moment,
                    moment,
                    *extra_tokens,
                    "{}",
                    "",
                    cost,
                )
            )
    at = columns.index("occurred_at")
    rows.sort(key=lambda row: row[at])  # the ledger grows in time order
    started = time.perf_counter()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY tokens_usagerecord ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    copy_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tokens_usagerecord")
    return user_rows, copy_seconds


def timed(fn, iterations: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(samples), "p95": percentile(samples, 95)}


def rollup_upsert_cost() -> list[tuple[str, int, float, float]]:
    """Milliseconds the rollup step adds to one ingestion transaction of 500 records:
    a batch from one agent (a few keys) and a worst-case batch of recent records of many users."""
    latest = list(UsageRecord.objects.order_by("-occurred_at")[:500])
    one_user = list(UsageRecord.objects.filter(user_id=latest[0].user_id).order_by("-occurred_at")[:500])
    out = []
    for name, records in (("one user's batch", one_user), ("mixed batch of recent records", latest)):
        keys = {(r.user_id, r.occurred_at.date(), r.agent, r.model, r.tool) for r in records}
        samples = []
        for _ in range(15):
            started = time.perf_counter()
            with transaction.atomic():
                daily_usage_add(record_ids=[r.pk for r in records])
                transaction.set_rollback(True)  # measure the upsert, leave the data as it was
            samples.append((time.perf_counter() - started) * 1000)
        out.append((name, len(keys), statistics.median(samples), min(samples)))
    return out


def main() -> None:
    args = ARGS
    fresh = FRESH
    total_started = time.perf_counter()
    if fresh:
        started = time.perf_counter()
        users, copy_seconds = load(args.records, args.users, args.days, args.seed)
        print(
            f"loaded {args.records:,} records for {args.users} users in {time.perf_counter() - started:.1f}s "
            f"(COPY {copy_seconds:.1f}s = {args.records / copy_seconds:,.0f} rows/s)"
        )
        today = datetime.now(UTC).date()
        started = time.perf_counter()
        rollup_rows = daily_usage_rebuild(start=today - timedelta(days=args.days + 1), end=today)
        seconds = time.perf_counter() - started
        print(
            f"rollup rebuilt from the ledger: {rollup_rows:,} DailyUsage rows in {seconds:.1f}s "
            f"({args.records / seconds:,.0f} ledger rows/s)"
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE analytics_dailyusage")
    User = get_user_model()
    users = list(User.objects.filter(username__startswith="bench0").order_by("username"))
    ledger = UsageRecord.objects.count()
    rollup = DailyUsage.objects.count()
    heavy, median = users[0], users[len(users) // 2]
    per_user = dict(
        UsageRecord.objects.filter(user__in=[heavy, median]).values_list("user_id").annotate(n=Count("id"))
    )
    print(
        f"ledger {ledger:,} rows, rollup {rollup:,} rows; median user {per_user.get(median.pk) or '?'} "
        f"records, heavy user {per_user.get(heavy.pk) or '?'} records"
    )

    # Raw ceilings on the same data (LIMITS.md rows), measured in this run.
    raw = psycopg.connect(os.environ["DATABASE_URL"])
    since = datetime.now(UTC) - timedelta(days=30)
    def raw_user_days(user_id: int):
        return lambda: raw.execute(
            "SELECT date_trunc('day', occurred_at) d, sum(cost_usd), sum(total_tokens), count(*) "
            "FROM tokens_usagerecord WHERE user_id = %s AND occurred_at >= %s GROUP BY 1",
            [user_id, since],
        ).fetchall()

    raw_user = timed(raw_user_days(median.pk), args.iterations)
    raw_user_heavy = timed(raw_user_days(heavy.pk), args.iterations)
    raw_table = timed(
        lambda: raw.execute(
            "SELECT agent, sum(cost_usd), count(*) FROM tokens_usagerecord "
            "WHERE occurred_at >= %s GROUP BY 1",
            [since],
        ).fetchall(),
        max(5, args.iterations // 8),
        warmup=1,
    )
    raw.close()

    def page(client: Client, url: str):
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    results = []
    for label, user in (("median user", median), ("heavy user (10x)", heavy)):
        client = Client()
        client.force_login(user)
        for name, url in (
            ("dashboard 30d", "/dashboard/?period=30d"),
            ("dashboard 90d", "/dashboard/?period=90d"),
            ("summary API 30d", "/api/v1/reports/cost?format=summary&period=30d"),
            ("detailed report 30d", "/api/v1/reports/cost?format=detailed&period=30d"),
        ):
            results.append((f"{name}, {label}", timed(page(client, url), args.iterations)))
    staff = Client()
    staff.force_login(User.objects.get(username="bench-admin"))
    for name, url in (
        ("admin overview 30d", "/admin/analytics/dailyusage/overview/?period=30d"),
        ("admin overview 90d", "/admin/analytics/dailyusage/overview/?period=90d"),
    ):
        results.append((name, timed(page(staff, url), max(10, args.iterations // 2))))

    upserts = rollup_upsert_cost()

    print()
    print("| request | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, t in results:
        print(f"| {name} | {t['p50']:.1f} | {t['p95']:.1f} |")
    print(
        f"| raw: one user's 30-day daily aggregate on the ledger (median user) | {raw_user['p50']:.1f} | "
        f"{raw_user['p95']:.1f} |"
    )
    print(f"| raw: same, heavy user | {raw_user_heavy['p50']:.1f} | {raw_user_heavy['p95']:.1f} |")
    print(
        f"| raw: whole-table 30-day group by agent on the ledger | {raw_table['p50']:.1f} | "
        f"{raw_table['p95']:.1f} |"
    )
    print()
    print("| rollup upsert added to one ingestion transaction of 500 records | keys | median ms | min ms |")
    print("|---|---|---|---|")
    for name, keys, median_ms, min_ms in upserts:
        print(f"| {name} | {keys} | {median_ms:.1f} | {min_ms:.1f} |")
    loadavg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\ntotal {time.perf_counter() - total_started:.0f}s; load average {loadavg}, {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
