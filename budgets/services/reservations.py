"""Checks and reservations: the decision and the hold happen under the window locks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from budgets import selectors
from budgets.models import Budget, Reservation, ReservationHold
from budgets.services.locking import windows_lock
from budgets.windows import window_bounds
from core.errors import Conflict, NotFound
from core.money import COST_QUANTUM, ZERO, dollars, dollars_over
from tokens.counts import TokenCounts
from tokens.pricing import catalog, cost_of

logger = logging.getLogger(__name__)


def reservation_ttl() -> timedelta:
    return timedelta(seconds=settings.NETRA_RESERVATION_TTL_SECONDS)


@dataclass
class CheckResult:
    allowed: bool
    reason: str
    message: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    budgets: list[dict[str, Any]] = field(default_factory=list)
    denied_by: list[int] = field(default_factory=list)
    reservation: Reservation | None = None


def _estimate_cost(model: str, input_tokens: int, output_tokens: int, at: datetime):
    price = catalog.resolve(model, at)
    if price is None:
        return None, None
    cost = cost_of(price, TokenCounts(input=input_tokens, output=output_tokens)).quantize(COST_QUANTUM)
    return cost, price.max_output_tokens


def budget_check(
    *,
    user,
    agent: str,
    model: str,
    input_tokens: int,
    run_id: str = "",
    max_output_tokens: int | None = None,
    reserve: bool = False,
    now: datetime | None = None,
    ttl: timedelta | None = None,
) -> CheckResult:
    """May this call go ahead? With ``reserve``, hold its estimate on every applicable budget.

    A hard budget denies when committed + live holds + this estimate would pass
    its limit, or when it is already used up; a soft one only says so. The
    decision and the hold happen under the windows' row locks, so concurrent
    checks can never jointly pass a hard limit.
    """
    now = now or timezone.now()
    budgets = selectors.budgets_applicable(user=user, agent=agent, run_id=run_id)
    cost_probe, model_max = _estimate_cost(model, input_tokens, 0, now)
    output_tokens = selectors.output_estimate(
        user=user, agent=agent, model=model, max_output_tokens=max_output_tokens, model_max=model_max,
        strict=any(b.strict for b in budgets), now=now,
    )
    cost, _ = _estimate_cost(model, input_tokens, output_tokens, now)
    tokens = input_tokens + output_tokens
    usd = cost if cost is not None else ZERO
    bounds = {b.pk: window_bounds(b.period, b.tz_name, now) for b in budgets}
    keys = {(b.pk, bounds[b.pk][0]) for b in budgets}

    with transaction.atomic():
        reservation = None
        if reserve:
            # Written before the lock so the lock is held for as little as possible: nobody else
            # sees these rows before our commit, and a denial deletes them in this transaction.
            reservation = Reservation.objects.create(
                user=user, agent=agent, model=model, run_id=run_id, input_tokens=input_tokens,
                output_tokens=output_tokens, tokens=tokens, cost_usd=usd, created_at=now,
                expires_at=now + (ttl or reservation_ttl()),
            )
            ReservationHold.objects.bulk_create([
                ReservationHold(reservation=reservation, budget_id=b.pk, window_start=bounds[b.pk][0],
                                tokens=tokens, cost_usd=usd, expires_at=reservation.expires_at)
                for b in budgets
            ])
        windows = windows_lock(keys)
        # Our own holds are visible to us: with a reservation the sum already includes this estimate.
        reserved = selectors.live_reserved(keys=keys, now=now)
        pending_tokens, pending_usd = (0, ZERO) if reserve else (tokens, usd)
        items, hard_denials, soft_over, applied, skipped = [], [], [], [], []
        for listed in budgets:
            start, end = bounds[listed.pk]
            w = windows.get((listed.pk, start))
            if w is None or not w.budget.is_active:
                skipped.append(listed.pk)  # deleted or switched off since it was listed
                continue
            b = w.budget  # limits and enforcement as of the lock
            applied.append(b)
            r_tokens, r_usd = reserved.get((b.pk, start), (0, ZERO))
            item = selectors.figures(
                b, window_start=start, window_end=end, spent_tokens=w.spent_tokens, spent_usd=w.spent_usd,
                reserved_tokens=r_tokens, reserved_usd=r_usd,
            )
            items.append(item)
            if _would_exceed(b, item, tokens=pending_tokens, usd=pending_usd):
                (hard_denials if b.enforcement == Budget.HARD else soft_over).append(b)
        allowed = not hard_denials
        if reservation is not None and not allowed:
            ReservationHold.objects.filter(reservation=reservation).delete()
            Reservation.objects.filter(pk=reservation.pk).delete()
            reservation = None
            for item in items:
                _add_hold(item, tokens=-tokens, usd=-usd)
        elif reservation is not None and skipped:
            ReservationHold.objects.filter(reservation=reservation, budget_id__in=skipped).delete()

    if hard_denials:
        reason = "budget_exceeded"
        message = "Denied: " + "; ".join(_denial_text(b, items) for b in hard_denials) + "."
    elif soft_over:
        reason = "soft_limit_exceeded"
        message = "Allowed past a soft limit: " + "; ".join(_denial_text(b, items) for b in soft_over) + "."
    elif applied:
        reason, message = "within_budget", "Within every applicable budget."
    else:
        reason, message = "no_budget", "No budget applies to this call."
    return CheckResult(
        allowed=allowed, reason=reason, message=message, input_tokens=input_tokens, output_tokens=output_tokens,
        cost_usd=cost, budgets=items, denied_by=[b.pk for b in hard_denials], reservation=reservation,
    )


def _would_exceed(budget: Budget, item: dict, *, tokens: int, usd: Decimal) -> bool:
    """Used up already, or committed + live holds + ``tokens``/``usd`` past the limit."""
    if budget.limit_tokens is not None:
        if item["spent_tokens"] >= budget.limit_tokens or tokens > item["remaining_tokens"]:
            return True
    if budget.limit_usd is not None:
        if item["spent_usd"] >= budget.limit_usd or usd > item["remaining_usd"]:
            return True
    return False


def _add_hold(item: dict, *, tokens: int, usd: Decimal) -> None:
    item["reserved_tokens"] += tokens
    item["reserved_usd"] += usd
    if item["remaining_tokens"] is not None:
        item["remaining_tokens"] -= tokens
    if item["remaining_usd"] is not None:
        item["remaining_usd"] -= usd


def _denial_text(budget: Budget, items: list[dict]) -> str:
    """E.g. budget 3 (user, month) has $0.00 of $12.00 left (over by $5,361.59): money in cents, nothing
    left below zero (an overrun is said as such)."""
    item = next(i for i in items if i["id"] == budget.pk)
    parts = []
    if budget.limit_tokens is not None:
        left = item["remaining_tokens"]
        over = f" (over by {-left})" if left < 0 else ""
        parts.append(f"{max(left, 0)} of {budget.limit_tokens} tokens left{over}")
    if budget.limit_usd is not None:
        left = item["remaining_usd"]
        # Rounded up, so an overrun never reads "over by $0.00".
        over = f" (over by {dollars_over(-left)})" if left < 0 else ""
        parts.append(f"{dollars(max(left, ZERO))} of {dollars(budget.limit_usd)} left{over}")
    return f"budget {budget.pk} ({budget.scope}, {budget.period}) has " + " and ".join(parts)


def _settle(reservation_id, *, user, status: str, now: datetime) -> int:
    """Move a live reservation of ``user`` to ``status``; returns 1 if it was live, else 0."""
    changed = Reservation.objects.filter(
        pk=reservation_id, user=user, status=Reservation.ACTIVE, expires_at__gt=now
    ).update(status=status, settled_at=now)
    if changed:
        ReservationHold.objects.filter(reservation_id=reservation_id).update(active=False)
    return changed


def _expire_if_due(reservation: Reservation, *, now: datetime) -> None:
    if reservation.status == Reservation.ACTIVE and reservation.expires_at <= now:
        if Reservation.objects.filter(pk=reservation.pk, status=Reservation.ACTIVE).update(
            status=Reservation.EXPIRED, settled_at=now
        ):
            ReservationHold.objects.filter(reservation_id=reservation.pk).update(active=False)
        reservation.refresh_from_db()


def reservation_release(*, user, reservation_id, now: datetime | None = None) -> Reservation:
    """Give a hold back. Releasing twice is harmless; a committed or expired one cannot be released."""
    return _close(user=user, reservation_id=reservation_id, status=Reservation.RELEASED, verb="released",
                  now=now or timezone.now())


def reservation_commit(*, user, reservation_id, now: datetime | None = None) -> Reservation:
    """Close a hold without a usage record: nothing is charged (spend comes only from the ledger).

    The normal commit is a usage record carrying ``reservation_id``.
    """
    return _close(user=user, reservation_id=reservation_id, status=Reservation.COMMITTED, verb="committed",
                  now=now or timezone.now())


def _close(*, user, reservation_id, status: str, verb: str, now: datetime) -> Reservation:
    """Settle a live reservation; the same request twice answers the same; anything else is a 409."""
    with transaction.atomic():
        if not _settle(reservation_id, user=user, status=status, now=now):
            reservation = _owned(user, reservation_id)
            _expire_if_due(reservation, now=now)
        else:
            reservation = _owned(user, reservation_id)
    # Raised after the block so that marking a reservation expired is kept.
    if reservation.status != status:
        raise Conflict(
            f"The reservation is {reservation.status}; only an active one can be {verb}.",
            code=f"reservation_{reservation.status}",
        )
    return reservation


def _owned(user, reservation_id) -> Reservation:
    reservation = selectors.reservation_for_user(user=user, reservation_id=reservation_id)
    if reservation is None:
        # Another user's reservation is reported exactly like a missing one.
        raise NotFound("No such reservation.")
    return reservation


def reservations_expire(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Mark reservations past their TTL expired and drop their holds (they already stopped counting)."""
    now = now or timezone.now()
    total = 0
    while True:
        ids = list(Reservation.objects.expired(now).order_by("expires_at").values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic():
            expired = list(
                Reservation.objects.filter(pk__in=ids, status=Reservation.ACTIVE).values_list("pk", flat=True)
            )
            Reservation.objects.filter(pk__in=expired, status=Reservation.ACTIVE).update(
                status=Reservation.EXPIRED, settled_at=now
            )
            ReservationHold.objects.filter(reservation_id__in=expired).update(active=False)
        total += len(expired)
        if len(ids) < batch:
            return total
