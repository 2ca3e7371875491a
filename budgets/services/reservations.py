"""Settling reservations without a usage record: release, commit, expiry."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from budgets import selectors
from budgets.models import Reservation, ReservationHold
from core.errors import Conflict, NotFound


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
