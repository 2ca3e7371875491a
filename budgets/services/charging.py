"""Stored usage against budgets: settle the reservations it names, charge the windows it falls in.

Both run inside the ingestion transaction, called by the pipeline
(``ingestion.services.usage_ingest``) in that order. Charging reports which
alert thresholds each window crossed; raising the alerts is the pipeline's
next step, in the analytics layer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from budgets import selectors
from budgets.models import Budget, BudgetWindow, Reservation, ReservationHold
from budgets.services.locking import windows_create
from budgets.windows import window_bounds
from core.db import rows_lock
from core.money import ZERO, to_decimal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThresholdCrossing:
    """A budget window whose committed spend passed one of the budget's alert thresholds."""

    budget: Budget
    window_start: datetime
    threshold: Decimal
    percent_used: Decimal
    spent_tokens: int
    spent_usd: Decimal


def reservations_settle(*, records: list, now: datetime | None = None) -> None:
    """Commit the live reservations that stored records name (``reservation_id``).

    A record whose reservation is unknown, another user's, expired or already
    settled is charged all the same (the call happened) and the mismatch is
    logged; its holds stop counting either way.
    """
    now = now or timezone.now()
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
        # Locked in primary-key order first: an UPDATE of several rows locks them in scan order.
        holds = rows_lock(ReservationHold.objects.filter(reservation_id__in=committed, active=True))
        ReservationHold.objects.filter(pk__in=[h.pk for h in holds]).update(active=False)


def budget_windows_charge(*, records: list, count_tokens: bool = True) -> list[ThresholdCrossing]:
    """Add stored records' tokens and cost to every window of every budget that applies to them.

    A record is always charged, even past a hard limit (the call happened):
    the overage shows and further checks are denied. ``count_tokens=False``
    charges only the cost (records repriced after they were charged).
    Returns the alert thresholds crossed by these charges.
    """
    budgets = selectors.budgets_active_for_records(records=records)
    if not budgets:
        return []
    increments: dict[tuple[int, datetime], list] = defaultdict(lambda: [0, ZERO])
    for record in records:
        for b in budgets:
            if selectors.record_applies(b, record):
                start, _ = window_bounds(b.period, b.tz_name, record.occurred_at)
                inc = increments[(b.pk, start)]
                if count_tokens:
                    inc[0] += record.total_tokens
                inc[1] += record.cost_usd
    by_pk = {b.pk: b for b in budgets}
    crossings = []
    for key, (new_tokens, new_usd) in _windows_add(increments).items():
        tokens, usd = increments[key]
        # The UPDATE holds the row lock, so new - increment is exactly the old value.
        crossings += _crossed(by_pk[key[0]], window_start=key[1], before=(new_tokens - tokens, new_usd - usd),
                              after=(new_tokens, new_usd))
    return crossings


def _windows_add(increments: dict[tuple[int, datetime], list]) -> dict[tuple[int, datetime], tuple]:
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
                out[key] = (int(row[0]), to_decimal(row[1]))
    return out


def _crossed(budget: Budget, *, window_start: datetime, before: tuple[int, Decimal],
             after: tuple[int, Decimal]) -> list[ThresholdCrossing]:
    old = selectors.percent_used(budget, spent_tokens=before[0], spent_usd=before[1])
    new = selectors.percent_used(budget, spent_tokens=after[0], spent_usd=after[1])
    return [
        ThresholdCrossing(budget=budget, window_start=window_start, threshold=threshold, percent_used=new,
                          spent_tokens=after[0], spent_usd=after[1])
        for threshold in sorted(Decimal(str(t)) for t in (budget.thresholds or []))
        if old < threshold <= new
    ]
