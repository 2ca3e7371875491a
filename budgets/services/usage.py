"""Applying stored usage to budgets: charge windows, settle reservations, raise threshold alerts."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from budgets import selectors
from budgets.models import Budget, BudgetWindow, Reservation, ReservationHold
from budgets.services.locking import COST_QUANTUM, ZERO, windows_create
from budgets.windows import window_bounds

logger = logging.getLogger(__name__)


def usage_apply(*, records: list, count_tokens: bool = True, settle: bool = True) -> None:
    """Charge stored usage records to every budget that applies; settle their reservations.

    Runs inside the ingestion transaction (receiver of ``usage_recorded``). A
    record is always charged, even past a hard limit (the call happened): the
    overage shows and further checks are denied. A record whose reservation is
    unknown, another user's, expired or already settled is charged all the
    same and the mismatch is logged.
    """
    now = timezone.now()
    if settle:
        _settle_reservations(records, now=now)
    budgets = selectors.budgets_for_users_cached(user_ids={r.user_id for r in records})
    if not budgets:
        return
    increments: dict[tuple[int, datetime], list] = defaultdict(lambda: [0, ZERO])
    for record in records:
        for b in budgets:
            if selectors.budget_applies(b, user_id=record.user_id, agent=record.agent, run_id=record.run_id):
                start, _ = window_bounds(b.period, b.tz_name, record.occurred_at)
                inc = increments[(b.pk, start)]
                if count_tokens:
                    inc[0] += record.total_tokens
                inc[1] += record.cost_usd
    if not increments:
        return
    by_pk = {b.pk: b for b in budgets}
    for key, (new_tokens, new_usd) in _charge_windows(increments).items():
        tokens, usd = increments[key]
        # The UPDATE holds the row lock, so new - increment is exactly the old value. Thresholds
        # and limits come from the cached budget: at worst a few seconds old, and only for alerts.
        _alerts_for_crossing(
            by_pk[key[0]], window_start=key[1], before=(new_tokens - tokens, new_usd - usd),
            after=(new_tokens, new_usd),
        )


def _charge_windows(increments: dict[tuple[int, datetime], list]) -> dict[tuple[int, datetime], tuple]:
    """Add to each window's spend with one UPDATE ... RETURNING each, in the lock order.

    Returns the new (tokens, usd) per window. A window that does not exist yet
    is created first; one whose budget was deleted meanwhile is skipped.
    """
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(BudgetWindow._meta.db_table)} SET spent_tokens = spent_tokens + %s, "
        "spent_usd = spent_usd + %s WHERE budget_id = %s AND window_start = %s RETURNING spent_tokens, spent_usd"
    )
    out = {}
    with connection.cursor() as cursor:
        for key in sorted(increments):
            tokens, usd = increments[key]
            if not tokens and not usd:
                continue
            params = (tokens, usd, key[0], connection.ops.adapt_datetimefield_value(key[1]))
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is None:
                windows_create({key})
                cursor.execute(sql, params)
                row = cursor.fetchone()
            if row is not None:
                out[key] = (int(row[0]), _decimal(row[1]))
    return out


def _decimal(value) -> Decimal:
    # SQLite hands back a float for a numeric column; PostgreSQL a Decimal.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(COST_QUANTUM)


def _settle_reservations(records: list, *, now: datetime) -> None:
    wanted = {r.reservation_id: r for r in records if r.reservation_id}
    if not wanted:
        return
    committed, odd = [], []
    for reservation_id, record in sorted(wanted.items()):
        # One conditional UPDATE commits a live reservation of this user; anything else is looked at below.
        if Reservation.objects.filter(
            pk=reservation_id, user_id=record.user_id, status=Reservation.ACTIVE, expires_at__gt=now
        ).update(status=Reservation.COMMITTED, settled_at=now, record_id=record.pk,
                 actual_tokens=record.total_tokens, actual_usd=record.cost_usd):
            committed.append(reservation_id)
        else:
            odd.append(reservation_id)
    found = {res.pk: res for res in Reservation.objects.filter(pk__in=odd)} if odd else {}
    for reservation_id in odd:
        record, res = wanted[reservation_id], found.get(reservation_id)
        if res is None or res.user_id != record.user_id:
            logger.warning("usage %s names reservation %s, unknown to its user; charged without it",
                           record.pk, reservation_id)
            continue
        logger.info("usage %s commits reservation %s which is %s; charged without it", record.pk, res.pk,
                    "expired" if res.status == Reservation.ACTIVE else res.status)
        update: dict[str, Any] = {}
        if res.status == Reservation.ACTIVE:
            update = {"status": Reservation.EXPIRED, "settled_at": now}
            committed.append(res.pk)  # its holds go too
        if res.record_id is None:
            update.update(record_id=record.pk, actual_tokens=record.total_tokens, actual_usd=record.cost_usd)
        if update:
            Reservation.objects.filter(pk=res.pk).update(**update)
    if committed:
        ReservationHold.objects.filter(reservation_id__in=committed, active=True).update(active=False)


def _alerts_for_crossing(
    budget: Budget, *, window_start: datetime, before: tuple[int, Decimal], after: tuple[int, Decimal]
) -> None:
    old = selectors.percent_used(budget, spent_tokens=before[0], spent_usd=before[1])
    new = selectors.percent_used(budget, spent_tokens=after[0], spent_usd=after[1])
    crossed = sorted(Decimal(str(t)) for t in (budget.thresholds or []) if old < Decimal(str(t)) <= new)
    if not crossed:
        return
    from analytics.alerts import alert_raise
    from analytics.models import Alert

    owner = budget.user if budget.user_id else None
    for threshold in crossed:
        t = threshold.normalize()
        label = f"{t:f}"
        what = "exhausted" if threshold >= 100 else f"{label}% used"
        alert_raise(
            kind=Alert.KIND_BUDGET_THRESHOLD,
            dedupe_key=f"budget:{budget.pk}:{window_start:%Y%m%dT%H%M}:{label}",
            message=f"Budget {budget.pk} ({budget.scope}, {budget.period}) {what}: {new}% of its limit",
            user=owner,
            severity="critical" if threshold >= 100 else "warning",
            budget_id=budget.pk,
            window_start=window_start,
            threshold=threshold,
            percent_used=new,
            figures={
                "spent_tokens": after[0], "spent_usd": str(after[1]), "limit_tokens": budget.limit_tokens,
                "limit_usd": str(budget.limit_usd) if budget.limit_usd is not None else None,
                "enforcement": budget.enforcement,
            },
            webhook_url=budget.webhook_url,
            webhook_secret=budget.webhook_secret,
            live_event={
                "budget": budget.pk, "threshold": label, "percent_used": str(new), "scope": budget.scope,
                "period": budget.period, "agent": budget.agent, "run_id": budget.run_id,
                "enforcement": budget.enforcement, "window_start": window_start.isoformat(),
            },
        )
