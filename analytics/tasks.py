"""Periodic jobs of the analytics app (names fixed in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone


@shared_task(name="analytics.tasks.alerts_evaluate")
def alerts_evaluate() -> int:
    from analytics.rules import alerts_evaluate as evaluate

    return len(evaluate(now=timezone.now()))


@shared_task(name="analytics.tasks.policies_refresh")
def policies_refresh() -> int:
    from analytics.services import policies_refresh_all

    return policies_refresh_all()


@shared_task(name="analytics.tasks.rollup_rebuild")
def rollup_rebuild(start: str, end: str) -> int:
    from analytics.services import daily_usage_rebuild

    return daily_usage_rebuild(start=date.fromisoformat(start), end=date.fromisoformat(end))
