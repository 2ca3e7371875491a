"""The rollups: exact per-day totals of the ledger, kept by one rule in SQL.

``ROLLUP_RULE`` says what each ledger row adds to each counter. The same rule
feeds the online rollup (``daily_usage_add``: the rows a batch just stored,
inside the ingestion transaction, one ``INSERT ... SELECT ... ON CONFLICT DO
UPDATE SET x = x + EXCLUDED.x`` per rollup table) and the rebuild
(``daily_usage_rebuild``: a date range recomputed from the ledger). A
rolled-back batch never counts and concurrent batches never lose an update.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Round, TruncDate
from django.utils import timezone

from analytics.models import DailyUsage, UserDailyUsage
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


def _signed(aggregate, sign: int):
    return aggregate if sign == 1 else aggregate * Value(sign)


def _rollup_select(ledger: QuerySet[UsageRecord], model, *, sign: int = 1) -> tuple[str, list]:
    """``SELECT <model's key>, <its counters by the rule> FROM <ledger rows> GROUP BY key ORDER BY key``."""
    grouped = (
        ledger.annotate(day=TruncDate("occurred_at"))
        .values(*model.KEY)
        # Aggregates are named apart from the ledger's columns they read.
        .annotate(**{f"sum_{name}": _signed(ROLLUP_RULE[name], sign) for name in model.COUNTERS})
        # Sorted keys: concurrent batches lock rollup rows in one order and never deadlock.
        .order_by(*model.KEY)
    )
    sql, params = grouped.query.sql_with_params()
    return sql, list(params)


def _rollup_into(model, ledger: QuerySet[UsageRecord], *, sign: int = 1, add: bool = True) -> int:
    sql, params = _rollup_select(ledger, model, sign=sign)
    columns = (*model.KEY, *model.COUNTERS)
    statement = (insert_sql(model, columns, sql, conflict=model.KEY, add=model.COUNTERS) if add
                 else insert_sql(model, columns, sql))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


class _Ids:
    """Where the ids go in a compiled online rollup statement (found by identity among its params)."""


@functools.lru_cache(maxsize=16)
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
    columns = (*model.KEY, *model.COUNTERS)
    statement = insert_sql(model, columns, sql, conflict=model.KEY, add=model.COUNTERS)
    (index,) = [i for i, param in enumerate(params) if param is marker]
    return statement, tuple(params), index


def daily_usage_add(*, record_ids: Iterable, sign: int = 1) -> None:
    """Add stored records to the daily rollups (``sign=-1`` takes them out, as before a reprice)."""
    ids = list(record_ids)
    if not ids:
        return
    vendor, zone = connection.vendor, timezone.get_current_timezone_name()
    for start in range(0, len(ids), _IDS_CHUNK):
        chunk = ids[start : start + _IDS_CHUNK]
        value = chunk if vendor == "postgresql" else json.dumps([getattr(i, "hex", i) for i in chunk])
        for model in (DailyUsage, UserDailyUsage):
            statement, params, index = _online_statement(model, sign, vendor, zone)
            params = list(params)
            params[index] = value
            with connection.cursor() as cursor:
                cursor.execute(statement, params)


def daily_usage_rebuild(*, start: date, end: date, user=None) -> int:
    """Recompute the rollups of UTC days ``start``..``end`` (inclusive) from the ledger.

    Restart-safe: the rows of the range are replaced in one transaction. On
    PostgreSQL the rollup tables are locked against concurrent upserts first, so
    a batch ingested meanwhile is either in the recomputed totals or added on
    top after the rebuild commits, never both. Returns the number of rows.
    """
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(DailyUsage._meta.db_table)}, "
                    f"{connection.ops.quote_name(UserDailyUsage._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE"
                )
        ledger = UsageRecord.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        if user is not None:
            ledger = ledger.filter(user=user)
        rows = {}
        for model in (DailyUsage, UserDailyUsage):
            stale = model.objects.filter(day__gte=start, day__lte=end)
            if user is not None:
                stale = stale.filter(user=user)
            stale.delete()
            rows[model] = _rollup_into(model, ledger, add=False)
    return rows[DailyUsage]
