"""Periodic jobs of the budgets app (thin: they call services)."""

from celery import shared_task

from budgets.services import reservations_expire as _reservations_expire


@shared_task(name="budgets.tasks.reservations_expire", ignore_result=True)
def reservations_expire() -> int:
    """Mark reservations past their TTL expired. Expired holds stopped counting already; this tidies."""
    return _reservations_expire()
