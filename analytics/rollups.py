"""The rollups: exact totals of the ledger, kept by one rule in SQL.

``ROLLUP_RULE`` says what each ledger row adds to each counter. The same rule
feeds the online rollup (``daily_usage_add``: the rows a batch just stored,
inside the ingestion transaction, one ``INSERT ... SELECT ... ON CONFLICT DO
UPDATE SET x = x + EXCLUDED.x`` per rollup table, in the fixed order of
``ROLLUPS``) and the rebuild (``daily_usage_rebuild``: a date range recomputed
from the ledger). A rolled-back batch never counts and concurrent batches never
lose an update.

The rollup tables: ``DailyUsage`` (user, day, agent, model, tool),
``UserDailyUsage`` (user, day), ``RunUsage`` (user, run_id: a run's calls,
tokens, cost, first and last call), ``TechniqueDailyUsage`` (user, day,
reported optimization technique), and for organizations' pages
``OrgDailyUsage`` (organization, day, member, project, key, agent, model), its
per-tag twin ``OrgTagDailyUsage`` and ``OrgLatencyDaily`` (organization, day,
latency to 1%).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Round, TruncDate
from django.utils import timezone

from analytics.models import (
    DailyUsage,
    OrgDailyUsage,
    OrgLatencyDaily,
    OrgTagDailyUsage,
    RunUsage,
    TechniqueDailyUsage,
    UserDailyUsage,
)
from core.db import insert_sql
from core.money import PER_MILLION
from tokens.counts import PROMPT_FIELDS, TOKEN_FIELDS
from tokens.models import UsageRecord

# USD per token of a per-million price.
PER_TOKEN = 1 / PER_MILLION
# Ids per online statement: a batch is at most 1000 records.
_IDS_CHUNK = 1000


def _rule() -> dict[str, Any]:
    """What one ledger row adds to each DailyUsage counter, as SQL aggregates over ledger rows."""
    prompt = sum((F(name) for name in PROMPT_FIELDS[1:]), F(PROMPT_FIELDS[0]))
    optimized = ~Q(optimization_technique="")
    # Prompt tokens an optimization saved: what it reported before, less what was sent.
    saved = Case(
        When(optimized & Q(original_tokens__isnull=False), then=Greatest(F("original_tokens") - prompt, 0)),
        default=Value(0),
        output_field=IntegerField(),
    )
    one = Value(1)
    return {
        "requests": Sum(one),
        **{name: Sum(name) for name in TOKEN_FIELDS},
        "cost_usd": Sum("cost_usd"),
        "list_cost_usd": Sum("list_cost_usd"),
        # A cache hit: a response served from cache, or a prompt read from the provider's cache.
        "cache_hits": Sum(Case(When(Q(cache_hit=True) | Q(cached_input_tokens__gt=0), then=one), default=0)),
        "unpriced_requests": Sum(Case(When(priced=False, then=one), default=0)),
        "optimized_requests": Sum(Case(When(optimized, then=one), default=0)),
        # An optimization that saved no prompt tokens (or did not say how many it started from) failed.
        "optimization_failures": Sum(
            Case(
                When(optimized & Q(original_tokens__isnull=True), then=one),
                When(optimized & Q(original_tokens__lte=prompt), then=one),
                default=0,
            )
        ),
        "original_tokens": Sum(Case(When(optimized, then=Coalesce("original_tokens", 0)), default=0)),
        "tokens_saved": Sum(saved),
        # Saved prompt tokens at the base input rate of the price the record was charged at.
        "usd_saved": Sum(
            Case(
                # Times a millionth, not divided by a million: SQLite would divide integers.
                When(priced=True, then=Coalesce(
                    Round(saved * F("price__input_per_million") * Value(PER_TOKEN), 12), Value(Decimal(0)))),
                default=Value(Decimal(0)),
                output_field=DecimalField(max_digits=24, decimal_places=12),
            )
        ),
    }


ROLLUP_RULE = _rule()

def latency_bucket(ms: int) -> int:
    """The latency an OrgLatencyDaily row counts ``ms`` under: exact below 1000 ms, else rounded down to three
    significant digits (1234 -> 1230, 45678 -> 45600): within 1% of the reported value."""
    step = 1
    while ms >= 1000 * step:
        step *= 10
    return ms // step * step


def _latency_bucket_sql():
    """``latency_bucket`` in SQL (integer division on both databases)."""
    whens = [When(latency_ms__lt=1000, then=F("latency_ms"))]
    step = 10
    while step <= 10**7:  # latency_ms is at most 2**31 - 1
        whens.append(When(latency_ms__lt=1000 * step, then=F("latency_ms") / Value(step) * Value(step)))
        step *= 10
    return Case(*whens, default=F("latency_ms") / Value(10**8) * Value(10**8), output_field=IntegerField())


# Every rollup table, in the order a transaction writes (and so locks) them.
ROLLUPS = (DailyUsage, UserDailyUsage, RunUsage, TechniqueDailyUsage, OrgDailyUsage, OrgTagDailyUsage,
           OrgLatencyDaily)
# The tables of an organization's pages: records of no organization are not in them.
ORG_ROLLUPS = (OrgDailyUsage, OrgTagDailyUsage, OrgLatencyDaily)
_ORG = Q(organization__isnull=False)
# Which ledger rows a table counts (all, unless named here).
_LEDGER_ROWS = {
    RunUsage: ~Q(run_id=""),
    TechniqueDailyUsage: ~Q(optimization_technique=""),
    OrgDailyUsage: _ORG,
    # One row per (record, tag): a record counts once under each of its tags.
    OrgTagDailyUsage: _ORG & Q(tag_rows__isnull=False),
    OrgLatencyDaily: _ORG & Q(latency_ms__isnull=False),
}
# Key columns that are not ledger columns.
_KEY_EXPRESSIONS = {
    "day": TruncDate("occurred_at"),
    "technique": F("optimization_technique"),
    "project_ref": Coalesce("project_id", 0),
    "key_ref": Coalesce("api_key_id", 0),
    "tag": F("tag_rows__tag"),
    "latency_bucket": _latency_bucket_sql(),
}
# The columns kept rather than added: their aggregate over the rows and how a conflict merges it.
_KEPT = {
    # A row's organization is its records' (a user's rows of one key share one organization).
    "organization_id": (Max("organization_id"), "first"),
    "first_at": (Min("occurred_at"), "least"),
    "last_at": (Max("occurred_at"), "greatest"),
}


def _signed(aggregate, sign: int):
    return aggregate if sign == 1 else aggregate * Value(sign)


def _rollup_select(ledger: QuerySet[UsageRecord], model, *, sign: int = 1) -> tuple[str, list]:
    """``SELECT <model's key>, <its counters by the rule>, <kept columns> FROM <ledger rows> GROUP BY key
    ORDER BY key``."""
    if model in _LEDGER_ROWS:
        ledger = ledger.filter(_LEDGER_ROWS[model])
    grouped = (
        ledger.annotate(**{name: _KEY_EXPRESSIONS[name] for name in model.KEY if name in _KEY_EXPRESSIONS})
        .values(*model.KEY)
        # Aggregates are named apart from the ledger's columns they read.
        .annotate(**{f"sum_{name}": _signed(ROLLUP_RULE[name], sign) for name in model.COUNTERS})
        .annotate(**{f"kept_{name}": _KEPT[name][0] for name in model.KEPT})
        # Sorted keys: concurrent batches lock rollup rows in one order and never deadlock.
        .order_by(*model.KEY)
    )
    sql, params = grouped.query.sql_with_params()
    return sql, list(params)


def _statement(model, source: str, *, add: bool = True) -> str:
    columns = (*model.KEY, *model.COUNTERS, *model.KEPT)
    if not add:
        return insert_sql(model, columns, source)
    return insert_sql(model, columns, source, conflict=model.KEY, add=model.COUNTERS,
                      keep={name: _KEPT[name][1] for name in model.KEPT})


def _rollup_into(model, ledger: QuerySet[UsageRecord], *, sign: int = 1, add: bool = True) -> int:
    sql, params = _rollup_select(ledger, model, sign=sign)
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, sql, add=add), params)
        return cursor.rowcount


class _Ids:
    """Where the ids go in a compiled online rollup statement (found by identity among its params)."""


@functools.lru_cache(maxsize=32)
def _online_statement(model, sign: int, vendor: str, zone: str) -> tuple[str, tuple, int]:
    """The online rollup of ``model`` for a set of ledger ids, compiled once: (sql, params, ids' index).

    The ids travel as one array (PostgreSQL) or JSON list (SQLite), so the statement does not depend on
    how many there are. Compiling the rule through the ORM cost about 5 ms per statement, two statements
    per ingested batch: more than the rest of a one-record ingestion (docs/benchmarks.md).
    """
    marker = _Ids()
    ids = (RawSQL("SELECT unnest(%s::uuid[])", [marker]) if vendor == "postgresql"
           else RawSQL("SELECT value FROM json_each(%s)", [marker]))
    sql, params = _rollup_select(UsageRecord.objects.filter(pk__in=ids), model, sign=sign)
    (index,) = [i for i, param in enumerate(params) if param is marker]
    return _statement(model, sql), tuple(params), index


def daily_usage_add(*, record_ids: Iterable, sign: int = 1) -> None:
    """Add stored records to every rollup (``sign=-1`` takes them out, as before a reprice).

    One statement per rollup table for a batch (up to 1000 records), tables in ``ROLLUPS`` order,
    keys sorted within each: two batches lock the rows they share in the same order.
    """
    ids = sorted(record_ids)
    if not ids:
        return
    vendor, zone = connection.vendor, timezone.get_current_timezone_name()
    for start in range(0, len(ids), _IDS_CHUNK):
        chunk = ids[start : start + _IDS_CHUNK]
        value = chunk if vendor == "postgresql" else json.dumps([getattr(i, "hex", i) for i in chunk])
        statements = []
        for model in ROLLUPS:
            statement, params, index = _online_statement(model, sign, vendor, zone)
            params = list(params)
            params[index] = value
            statements.append((statement, params))
        with connection.cursor() as cursor:
            if vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get("server_side_binding"):
                # One round trip (client-side binding sends both at once): the first statement locks the
                # user's rollup rows until commit, and each round trip while they are held is waited out
                # by every concurrent ingestion of that user.
                cursor.execute("; ".join(s for s, _ in statements), [p for _, ps in statements for p in ps])
            else:
                for statement, params in statements:
                    cursor.execute(statement, params)


def daily_usage_rebuild(*, start: date, end: date, user=None) -> int:
    """Recompute the rollups of UTC days ``start``..``end`` (inclusive) from the ledger.

    Restart-safe: the rows of the range are replaced in one transaction. A run with a record in
    the range is recomputed whole (from all its records). On PostgreSQL the rollup tables are
    locked against concurrent upserts first, so a batch ingested meanwhile is either in the
    recomputed totals or added on top after the rebuild commits, never both. Returns the number
    of DailyUsage rows.
    """
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in ROLLUPS)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
                # Grouping millions of ledger rows: a maintenance job, given room to sort in memory.
                cursor.execute("SET LOCAL work_mem = '256MB'")
        ledger = UsageRecord.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        if user is not None:
            ledger = ledger.filter(user=user)
        rows = {}
        for model in ROLLUPS:
            if model is RunUsage:
                touched = ledger.filter(user_id=OuterRef("user_id"), run_id=OuterRef("run_id"))
                RunUsage.objects.filter(Exists(touched)).delete()
                source = UsageRecord.objects.filter(Exists(touched))
            elif model is OrgLatencyDaily and user is not None:
                # Counted per organization, not per member: the user's organizations' days are recomputed whole.
                organizations = ledger.filter(_ORG).values("organization_id").distinct()
                model.objects.filter(day__gte=start, day__lte=end, organization__in=organizations).delete()
                source = UsageRecord.objects.filter(occurred_at__gte=since, occurred_at__lt=until,
                                                    organization__in=organizations)
            else:
                stale = model.objects.filter(day__gte=start, day__lte=end)
                if user is not None:
                    stale = stale.filter(user=user)
                stale.delete()
                source = ledger
            rows[model] = _rollup_into(model, source, add=False)
    return rows[DailyUsage]

