"""Writes of the analytics app: the DailyUsage rollup and optimization policies.

The rollup is exact: every stored usage record adds its figures to one
DailyUsage row with a single ``INSERT ... ON CONFLICT DO UPDATE SET
x = x + EXCLUDED.x`` inside the ingestion transaction, so a rolled-back
batch never counts and concurrent batches never lose an update.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Round, TruncDate
from django.utils import timezone

from analytics.models import DailyUsage, OptimizationPolicy, UserDailyUsage
from tokens.models import PER_MILLION, UsageRecord
from tokens.pricing import catalog

logger = logging.getLogger(__name__)

QUANTUM = Decimal("1e-12")
_UPSERT_CHUNK = 200


# --- Rollup -----------------------------------------------------------------------------


def _saved_tokens(record: UsageRecord) -> int:
    if not record.optimization_technique or record.original_tokens is None:
        return 0
    return max(record.original_tokens - record.prompt_tokens, 0)


def _usd_saved(record: UsageRecord, tokens_saved: int) -> Decimal:
    """Saved prompt tokens at the model's base input rate (the same rule as the SQL rebuild)."""
    if not tokens_saved or not record.priced:
        return Decimal(0)
    price = catalog.resolve(record.model, record.occurred_at)
    if price is None:
        return Decimal(0)
    return (tokens_saved * price.input_per_million / PER_MILLION).quantize(QUANTUM)


def _day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _contribution(record: UsageRecord) -> dict[str, Any]:
    saved = _saved_tokens(record)
    optimized = 1 if record.optimization_technique else 0
    return {
        "requests": 1,
        "input_tokens": record.input_tokens,
        "cached_input_tokens": record.cached_input_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "output_tokens": record.output_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "total_tokens": record.total_tokens,
        "cost_usd": record.cost_usd,
        "cache_hits": 1 if (record.cache_hit or record.cached_input_tokens > 0) else 0,
        "unpriced_requests": 0 if record.priced else 1,
        "optimized_requests": optimized,
        "optimization_failures": 1 if optimized and saved == 0 else 0,
        "original_tokens": (record.original_tokens or 0) if optimized else 0,
        "tokens_saved": saved,
        "usd_saved": _usd_saved(record, saved),
    }


def _key(record: UsageRecord) -> tuple:
    return (record.user_id, _day_of(record.occurred_at), record.agent, record.model, record.tool)


def _add_into(rows: dict[tuple, dict[str, Any]], key: tuple, values: dict[str, Any]) -> None:
    current = rows.get(key)
    if current is None:
        rows[key] = dict(values)
    else:
        for name, value in values.items():
            current[name] = current[name] + value


def _upsert(model, rows: dict[tuple, dict[str, Any]]) -> None:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET x = x + EXCLUDED.x`` for ``model``'s counters."""
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    counters = model.COUNTERS
    columns = ", ".join(q(c) for c in (*model.KEY, *counters))
    conflict = ", ".join(q(c) for c in model.KEY)
    updates = ", ".join(f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}" for c in counters)
    placeholder = "(" + ", ".join(["%s"] * (len(model.KEY) + len(counters))) + ")"
    # Sorted keys make concurrent batches lock rows in the same order: no deadlocks.
    items = sorted(rows.items(), key=lambda kv: kv[0])
    with connection.cursor() as cursor:
        for start in range(0, len(items), _UPSERT_CHUNK):
            chunk = items[start : start + _UPSERT_CHUNK]
            params: list[Any] = []
            for key, values in chunk:
                params.extend(key)
                params.extend(values[c] for c in counters)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
                params,
            )


def daily_usage_add(*, rows: dict[tuple, dict[str, Any]]) -> None:
    """Add counters to DailyUsage rows keyed by (user_id, day, agent, model, tool), creating
    them, and the same figures to the (user_id, day) totals."""
    if not rows:
        return
    per_user_day: dict[tuple, dict[str, Any]] = {}
    for key, values in rows.items():
        _add_into(per_user_day, key[:2], {c: values[c] for c in UserDailyUsage.COUNTERS})
    _upsert(DailyUsage, rows)
    _upsert(UserDailyUsage, per_user_day)


def daily_usage_record(*, records: Iterable[UsageRecord]) -> None:
    """Roll newly stored records into DailyUsage (called inside the ingestion transaction)."""
    rows: dict[tuple, dict[str, Any]] = {}
    for record in records:
        _add_into(rows, _key(record), _contribution(record))
    daily_usage_add(rows=rows)


def daily_usage_reprice(*, record_ids: list) -> None:
    """Move repriced records from unpriced to priced in the rollup: add their cost and savings."""
    rows: dict[tuple, dict[str, Any]] = {}
    zero = dict.fromkeys(DailyUsage.COUNTERS, 0)
    for start in range(0, len(record_ids), 1000):
        for record in UsageRecord.objects.filter(pk__in=record_ids[start : start + 1000], priced=True):
            full = _contribution(record)
            delta = {
                **zero,
                "cost_usd": full["cost_usd"],
                "usd_saved": full["usd_saved"],
                "unpriced_requests": -1,
            }
            _add_into(rows, _key(record), delta)
    with transaction.atomic():
        daily_usage_add(rows=rows)


def _rebuild_aggregates() -> dict[str, Any]:
    prompt = F("input_tokens") + F("cached_input_tokens") + F("cache_write_tokens")
    optimized = ~Q(optimization_technique="")
    saved = Case(
        When(optimized & Q(original_tokens__isnull=False), then=Greatest(F("original_tokens") - prompt, 0)),
        default=Value(0),
        output_field=IntegerField(),
    )
    one = Value(1)
    return {
        "requests": Sum(one),
        "input_tokens": Sum("input_tokens"),
        "cached_input_tokens": Sum("cached_input_tokens"),
        "cache_write_tokens": Sum("cache_write_tokens"),
        "output_tokens": Sum("output_tokens"),
        "reasoning_tokens": Sum("reasoning_tokens"),
        "total_tokens": Sum("total_tokens"),
        "cost_usd": Sum("cost_usd"),
        "cache_hits": Sum(Case(When(Q(cache_hit=True) | Q(cached_input_tokens__gt=0), then=one), default=0)),
        "unpriced_requests": Sum(Case(When(priced=False, then=one), default=0)),
        "optimized_requests": Sum(Case(When(optimized, then=one), default=0)),
        "optimization_failures": Sum(
            Case(
                When(optimized & Q(**{"original_tokens__isnull": True}), then=one),
                When(optimized & Q(original_tokens__lte=prompt), then=one),
                default=0,
            )
        ),
        "original_tokens": Sum(Case(When(optimized, then=Coalesce("original_tokens", 0)), default=0)),
        "tokens_saved": Sum(saved),
        "usd_saved": Sum(
            Case(
                When(priced=True, then=Round(saved * F("price__input_per_million") / PER_MILLION, 12)),
                default=Value(Decimal(0)),
            )
        ),
    }


def daily_usage_rebuild(*, start: date, end: date, user=None) -> int:
    """Recompute DailyUsage for UTC days ``start``..``end`` (inclusive) from the ledger.

    Restart-safe: the rows of the range are replaced in one transaction. On
    PostgreSQL the rollup table is locked against concurrent upserts first, so
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
        stale = DailyUsage.objects.filter(day__gte=start, day__lte=end)
        stale_totals = UserDailyUsage.objects.filter(day__gte=start, day__lte=end)
        ledger = UsageRecord.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        if user is not None:
            stale = stale.filter(user=user)
            stale_totals = stale_totals.filter(user=user)
            ledger = ledger.filter(user=user)
        stale.delete()
        stale_totals.delete()
        aggregates = _rebuild_aggregates()
        grouped = (
            ledger.annotate(day=TruncDate("occurred_at"))
            .values("user_id", "day", "agent", "model", "tool")
            # Aggregates are named apart from the ledger's columns they read.
            .annotate(**{f"sum_{name}": aggregates[name] for name in DailyUsage.COUNTERS})
            .order_by()
        )
        # One INSERT ... SELECT: the database groups and writes without a round trip per row.
        sql, params = grouped.query.sql_with_params()
        q = connection.ops.quote_name
        columns = ", ".join(q(c) for c in (*DailyUsage.KEY, *DailyUsage.COUNTERS))
        totals = (
            stale.values("user_id", "day")
            .annotate(**{f"sum_{name}": Sum(name) for name in UserDailyUsage.COUNTERS})
            .order_by()
        )
        totals_sql, totals_params = totals.query.sql_with_params()
        totals_columns = ", ".join(q(c) for c in (*UserDailyUsage.KEY, *UserDailyUsage.COUNTERS))
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {q(DailyUsage._meta.db_table)} ({columns}) {sql}", params)
            created = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {q(UserDailyUsage._meta.db_table)} ({totals_columns}) {totals_sql}",
                totals_params,
            )
    return created


# --- Receivers ----------------------------------------------------------------------------


def on_usage_recorded(sender, *, records: list[UsageRecord], **kwargs) -> None:
    daily_usage_record(records=records)


def on_usage_repriced(sender, *, record_ids: list, **kwargs) -> None:
    daily_usage_reprice(record_ids=record_ids)


# --- Optimization policies ---------------------------------------------------------------


def policy_refresh(*, user, now: datetime | None = None) -> OptimizationPolicy:
    """Recompute the AutoTokenOptimizer's policy for ``user`` unless an admin pinned it."""
    from analytics.optimizer import policy_recommend

    now = now or timezone.now()
    policy, _ = OptimizationPolicy.objects.get_or_create(user=user)
    if policy.pinned:
        return policy
    advice = policy_recommend(user=user, now=now)
    OptimizationPolicy.objects.filter(pk=policy.pk, pinned=False).update(
        compression_level=advice.compression_level,
        current_model=advice.current_model,
        suggested_model=advice.suggested_model,
        caching_enabled=advice.caching_enabled,
        triggers=advice.triggers,
        figures=advice.figures,
        estimated_savings_usd=advice.estimated_savings_usd,
        computed_at=now,
        updated_at=now,
    )
    policy.refresh_from_db()
    return policy


def policies_refresh_all(*, now: datetime | None = None, days: int = 30) -> int:
    """Refresh the policy of every user with usage in the last ``days`` days."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    since = _day_of(now) - timedelta(days=days - 1)
    user_ids = DailyUsage.objects.filter(day__gte=since).values_list("user_id", flat=True).distinct()
    count = 0
    for user in get_user_model().objects.filter(pk__in=list(user_ids)):
        policy_refresh(user=user, now=now)
        count += 1
    return count


def policy_pin(*, policy: OptimizationPolicy, by, note: str = "") -> OptimizationPolicy:
    """Keep an admin's policy as it is: the refresh no longer changes it."""
    OptimizationPolicy.objects.filter(pk=policy.pk).update(
        pinned=True, pinned_by=by, note=note or policy.note
    )
    policy.refresh_from_db()
    return policy


def policy_unpin(*, policy: OptimizationPolicy) -> OptimizationPolicy:
    OptimizationPolicy.objects.filter(pk=policy.pk).update(pinned=False, pinned_by=None)
    policy.refresh_from_db()
    return policy
