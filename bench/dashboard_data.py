"""The ledger of bench/dashboard.py: users, one organization of heavy users, and usage records
streamed into PostgreSQL with COPY one day at a time (10M rows never sit in memory at once).

Imported by bench/dashboard.py after it has set Django up.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from organizations.models import Membership, Organization
from tokens.counts import TOKEN_FIELDS
from tokens.pricing import catalog, rates_for
from tokens.services import prices_import

AGENTS = ["planner", "researcher", "writer", "reviewer", "coder", "support", "triage", "analyst"]
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "o3-mini", "gemini-2.5-flash"]
TOOLS = ["", "search", "sql_query", "browse", "summarize", "call_api", "retrieve"]
TECHNIQUES = ["compress", "context_fit", "lean_template"]
HEAVY = 10
ORG_SLUG = "heavy-org"
COLUMNS = (
    "id", "user_id", "organization_id", "request_id", "run_id", "agent", "tool", "model", "provider",
    "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
    "total_tokens", "cost_usd", "priced", "price_id", "optimization_technique", "original_tokens", "cache_hit",
    "latency_ms", "usage_format", "metadata", "occurred_at", "received_at",
    # The token classes added by the cost-truth work; this bench's calls have none of them.
    *(column for column in TOKEN_FIELDS if column not in (
        "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
        "total_tokens")),
    "units", "service_tier", "list_cost_usd", "tags",
)


# Cost-center tags of the organization's records (others have none), indexed as ingestion indexes them.
ORG_TAGS = ("[]", '["prod"]', '["prod", "eu"]', '["batch"]')
TAGS_SQL = ("INSERT INTO tokens_usagetag (record_id, tag, user_id, organization_id, occurred_at) "
            "SELECT id, jsonb_array_elements_text(tags), user_id, organization_id, occurred_at "
            "FROM tokens_usagerecord WHERE organization_id IS NOT NULL AND tags <> '[]'::jsonb")
RUNS_SQL = ("INSERT INTO tokens_run (user_id, run_id, agent_budgets, created_at) "
            "SELECT user_id, run_id, '{}', min(occurred_at) FROM tokens_usagerecord WHERE run_id <> '' "
            "GROUP BY user_id, run_id")


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    ms = int(moment.timestamp() * 1000)
    rand = rng.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64 | 0b10 << 62
    return uuid.UUID(int=value | (rand & ((1 << 62) - 1)))


def load(records: int, users: int, days: int, seed: int, heavy_records: int = 0) -> tuple[list, float]:
    """Users, catalog and the ledger (COPY, day by day). Returns (users, seconds spent generating and copying).

    The first ``HEAVY`` users each hold 1% of the ledger (100,000 records at 10M), or ``heavy_records``,
    and belong to one organization (10% of the ledger: 1M records at 10M); the others share the rest.
    """
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
    organization = Organization.objects.create(name="Heavy users", slug=ORG_SLUG)
    Membership.objects.bulk_create([Membership(organization=organization, user=user, role="owner" if i == 0
                                               else "member") for i, user in enumerate(user_rows[:HEAVY])])
    heavy_each = heavy_records or records // 100
    light_each = (records - HEAVY * heavy_each) / (users - HEAVY)
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    prices = {m: catalog.latest(m) for m in MODELS}
    rates = {m: rates_for(p, 0) for m, p in prices.items()}
    profiles = []
    for index, user in enumerate(user_rows):
        count = heavy_each if index < HEAVY else int(light_each * (index + 1)) - int(light_each * index)
        profiles.append({
            "user": user, "org": organization.pk if index < HEAVY else None, "count": count, "n": 0,
            "agents": rng.sample(AGENTS, 3), "models": rng.sample(MODELS, 2), "tools": rng.sample(TOOLS, 3),
        })
    extra_tokens = (0,) * (len(TOKEN_FIELDS) - 6)
    million = Decimal(1_000_000)
    at = COLUMNS.index("occurred_at")
    started = time.perf_counter()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY tokens_usagerecord ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for day in range(days):  # oldest first: the ledger grows in time order
                day_start = now - timedelta(days=days - day)
                rows = []
                for p in profiles:
                    # This user's records of the day: an even share of its total.
                    share = p["count"] * (day + 1) // days - p["count"] * day // days
                    for _ in range(share):
                        n = p["n"]
                        p["n"] += 1
                        rows.append(_row(p, n, day_start + timedelta(seconds=rng.randrange(86400)), rng, prices,
                                         rates, million, extra_tokens))
                rows.sort(key=lambda row: row[at])
                for row in rows:
                    copy.write_row(row)
    copy_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(RUNS_SQL)  # what ingestion's runs_ensure would have made
        cursor.execute(TAGS_SQL)  # what ingestion's usage_tags_store would have made
        cursor.execute("ANALYZE tokens_usagerecord")
    return user_rows, copy_seconds


def _row(p, n, moment, rng, prices, rates, million, extra_tokens) -> tuple:
    model = rng.choice(p["models"])
    prompt = int(rng.lognormvariate(7.2, 0.6))
    cached = prompt // 2 if rng.random() < 0.3 else 0
    inp = prompt - cached
    out = int(rng.lognormvariate(5.6, 0.5))
    r = rates[model]
    cost = ((inp * r.input + cached * r.cache_read + out * r.output) / million).quantize(Decimal("1e-12"))
    technique = rng.choice(TECHNIQUES) if rng.random() < 0.1 else ""
    original = int(prompt * rng.uniform(1.0, 1.6)) if technique else None
    user_id = p["user"].pk
    return (
        uuid7_at(moment, rng), user_id, p["org"], f"b-{user_id}-{n}", f"run-{user_id}-{n // 5}",
        rng.choice(p["agents"]), rng.choice(p["tools"]), model, prices[model].provider,
        inp, cached, 0, out, 0, inp + cached + out, cost, True, prices[model].pk, technique, original,
        rng.random() < 0.15, rng.randrange(200, 4000), "", "{}", moment, moment, *extra_tokens, "{}", "", cost,
        rng.choice(ORG_TAGS) if p["org"] else "[]",
    )
