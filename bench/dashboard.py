"""Dashboard at scale: usage records of 1000 users over 90 days, PostgreSQL, pages timed in-process and over HTTP.

    DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py \
        [--records 10000000] [--db netra_bench10m] [--http]

Creates (drops first) the database ``--db``, loads the ledger with COPY (bench/dashboard_data.py),
builds every rollup from it (``daily_usage_rebuild``), then times in-process requests (Django test
client, no network) and, with ``--http``, the same requests over HTTP to two daphne processes: the
dashboard (7/30/90 days and a custom range), the summary, detailed and CSV reports, a run's API
and page, the staff analytics overview, and an organization's rollup reads. Beside them it times the
raw operations they are bounded by (LIMITS.md). ``--reuse`` keeps an already loaded database.

Users: 10 heavy users hold 1% of the ledger each (100,000 records at 10M) and form one organization
(1M records at 10M); 990 ordinary users share the rest.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django
import psycopg
from harness import Server, percentile, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

def admin_url() -> str:
    return os.environ.get("DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def create_database(name: str, reuse: bool) -> bool:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return True


BENCH_ENV = {"SECRET_KEY": "bench-only-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
             "NETRA_EMBEDDED_BEAT": "0", "LOG_LEVEL": "WARNING"}


def setup_django(name: str) -> None:
    base = admin_url().rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    os.environ.pop("REDIS_URL", None)
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
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
    parser.add_argument("--heavy-records", type=int, default=0,
                        help="records of each of the 10 heavy users (default: 1%% of --records)")
    parser.add_argument("--db", default="netra_analytics_bench", help="the bench database (dropped first)")
    parser.add_argument("--http", action="store_true", help="also time the pages over HTTP (two daphne processes)")
    return parser.parse_args()


# A script: the database and Django are set up before the project's modules can be imported.
ARGS = parse_args()
FRESH = create_database(ARGS.db, ARGS.reuse)
setup_django(ARGS.db)

from dashboard_data import ORG_SLUG, load  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402

from analytics import org_selectors, selectors  # noqa: E402
from analytics.models import DailyUsage, OrgDailyUsage, RunUsage  # noqa: E402
from analytics.rollups import daily_usage_add, daily_usage_rebuild  # noqa: E402
from organizations.models import Organization  # noqa: E402
from tokens.models import UsageRecord  # noqa: E402


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


def pages(user, today) -> list[tuple[str, str]]:
    """The user-facing requests timed for one user: dashboard, reports, a run's API and page."""
    custom = f"start={today - timedelta(days=59):%Y-%m-%d}&end={today - timedelta(days=10):%Y-%m-%d}"
    run = RunUsage.objects.filter(user=user).order_by("-last_at").values_list("run_id", flat=True).first()
    out = [
        ("dashboard 7d", "/dashboard/?period=7d"),
        ("dashboard 30d", "/dashboard/?period=30d"),
        ("dashboard 90d", "/dashboard/?period=90d"),
        ("dashboard custom 50 days", f"/dashboard/?{custom}"),
        ("reports page 90d", "/reports/?period=90d"),
        ("summary API 30d", "/api/v1/reports/cost?format=summary&period=30d"),
        ("summary API 90d", "/api/v1/reports/cost?format=summary&period=90d"),
        ("detailed report 30d", "/api/v1/reports/cost?format=detailed&period=30d"),
        ("detailed report 90d", "/api/v1/reports/cost?format=detailed&period=90d"),
        ("CSV report 90d", "/api/v1/reports/cost?format=csv&period=90d"),
        ("run API", f"/api/v1/runs/{run}"),
    ]
    try:
        resolve(f"/runs/{run}/")
        out.append(("run page", f"/runs/{run}/"))
    except Resolver404:  # the run page is another branch's
        pass
    return out


def in_process(client: Client, url: str):
    def get():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        b"".join(response.streaming_content) if response.streaming else response.content

    return get


def over_http(port: int, cookie: str, url: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get():
        conn.request("GET", url, headers={"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (url, response.status)

    return get


def organization_read(organization, period):
    """The organization view's data (all members, 90 days) without rendering: what the page reads."""
    def read():
        org_selectors.org_dashboard(organization=organization, filters=org_selectors.OrgFilters(), period=period)

    return read


def main() -> None:
    args = ARGS
    total_started = time.perf_counter()
    # Production settings (DEBUG off): pages name their static files through the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    if FRESH:
        started = time.perf_counter()
        _, copy_seconds = load(args.records, args.users, args.days, args.seed, args.heavy_records)
        print(f"loaded {args.records:,} records for {args.users} users in {time.perf_counter() - started:.1f}s "
              f"(generated and copied at {args.records / copy_seconds:,.0f} rows/s)", flush=True)
        today = datetime.now(UTC).date()
        started = time.perf_counter()
        rollup_rows = daily_usage_rebuild(start=today - timedelta(days=args.days + 1), end=today)
        seconds = time.perf_counter() - started
        print(f"rollups rebuilt from the ledger: {rollup_rows:,} DailyUsage rows, {RunUsage.objects.count():,} "
              f"RunUsage rows in {seconds:.1f}s ({args.records / seconds:,.0f} ledger rows/s)", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    User = get_user_model()
    users = list(User.objects.filter(username__startswith="bench0").order_by("username"))
    ledger = UsageRecord.objects.count()
    rollup = DailyUsage.objects.count()
    heavy, median = users[0], users[len(users) // 2]
    per_user = dict(
        UsageRecord.objects.filter(user__in=[heavy, median]).values_list("user_id").annotate(n=Count("id"))
    )
    organization = Organization.objects.get(slug=ORG_SLUG)
    org_records = UsageRecord.objects.filter(organization=organization).count()
    print(f"ledger {ledger:,} rows, rollup {rollup:,} rows; median user {per_user.get(median.pk) or '?'} "
          f"records, heavy user {per_user.get(heavy.pk) or '?'} records, organization {org_records:,} records",
          flush=True)

    # Raw ceilings on the same data (LIMITS.md rows), measured in this run.
    raw = psycopg.connect(os.environ["DATABASE_URL"])
    since = datetime.now(UTC) - timedelta(days=30)

    def raw_user_days(user_id: int):
        return lambda: raw.execute(
            "SELECT date_trunc('day', occurred_at) d, sum(cost_usd), sum(total_tokens), count(*) "
            "FROM tokens_usagerecord WHERE user_id = %s AND occurred_at >= %s GROUP BY 1",
            [user_id, since],
        ).fetchall()

    raws = [
        ("raw: one user's 30-day daily aggregate on the ledger (median user)", timed(raw_user_days(median.pk),
                                                                                     args.iterations)),
        ("raw: same, heavy user", timed(raw_user_days(heavy.pk), args.iterations)),
        ("raw: whole-table 30-day group by agent on the ledger", timed(
            lambda: raw.execute("SELECT agent, sum(cost_usd), count(*) FROM tokens_usagerecord "
                                "WHERE occurred_at >= %s GROUP BY 1", [since]).fetchall(),
            max(5, args.iterations // 8), warmup=1)),
    ]
    raw.close()

    today = datetime.now(UTC).date()
    staff_user = User.objects.get(username="bench-admin")
    plan = [(f"{name}, {label}", user, url) for label, user in (("median user", median), ("heavy user", heavy))
            for name, url in pages(user, today)]
    plan += [(f"admin overview {days}d", staff_user, f"/admin/analytics/dailyusage/overview/?period={days}d")
             for days in (30, 90)]
    # The organization view, as staff (who may open any): unfiltered and by member, tag, agent and a custom
    # range read the organization rollups; under a filter, latency and (but by member) top runs read the ledger.
    org_url = f"/dashboard/org/{ORG_SLUG}/"
    top_agent = (OrgDailyUsage.objects.filter(organization=organization).values("agent")
                 .annotate(n=Sum("requests")).order_by("-n").values_list("agent", flat=True).first())
    custom = f"start={today - timedelta(days=59):%Y-%m-%d}&end={today - timedelta(days=10):%Y-%m-%d}"
    plan += [(f"organization view {days}d", staff_user, f"{org_url}?period={days}d") for days in (7, 30, 90)]
    plan += [
        ("organization view custom 50 days", staff_user, f"{org_url}?{custom}"),
        ("organization view 90d, one member", staff_user, f"{org_url}?period=90d&user={heavy.username}"),
        ("organization view 90d, tag prod", staff_user, f"{org_url}?period=90d&tag=prod"),
        ("organization view 30d, one agent", staff_user, f"{org_url}?period=30d&agent={top_agent}"),
    ]
    clients = {}
    for user in (median, heavy, staff_user):
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    results = [(name, timed(in_process(clients[user.pk], url), args.iterations)) for name, user, url in plan]
    period = selectors.period_parse(period="90d")
    results.append(("organization view 90d data, no rendering (1% of users, 10% of records)",
                    timed(organization_read(organization, period), args.iterations)))

    http_results = []
    if args.http:
        env = {**os.environ, "DEBUG": "False"}
        server = Server(env=env, workers=2)
        try:
            wait_for_port(server.port, procs=server.procs)
            for name, user, url in plan:
                cookie = clients[user.pk].cookies["sessionid"].value
                http_results.append((name, timed(over_http(server.port, cookie, url), args.iterations)))
        finally:
            server.stop()

    upserts = rollup_upsert_cost()

    print()
    print("| request | p50 ms | p95 ms |" + (" HTTP p50 ms | HTTP p95 ms |" if http_results else ""))
    print("|---|---|---|" + ("---|---|" if http_results else ""))
    over = dict(http_results)
    for name, t in results + raws:
        extra = f" {over[name]['p50']:.1f} | {over[name]['p95']:.1f} |" if name in over else (
            " | |" if http_results else "")
        print(f"| {name} | {t['p50']:.1f} | {t['p95']:.1f} |{extra}")
    print()
    print("| rollup upserts (7 tables) added to one ingestion transaction of 500 records | keys | median ms | min ms |")
    print("|---|---|---|---|")
    for name, keys, median_ms, min_ms in upserts:
        print(f"| {name} | {keys} | {median_ms:.1f} | {min_ms:.1f} |")
    loadavg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - total_started:.0f}s; load average {loadavg}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
