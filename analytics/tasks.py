"""Periodic jobs of the analytics app (names fixed in settings.CELERY_BEAT_SCHEDULE); thin: they call services.

Alert delivery tasks live in analytics.delivery.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from analytics.rollups import daily_usage_rebuild
from analytics.rules import alerts_evaluate as rules_evaluate
from analytics.services import policies_refresh_all


@shared_task(name="analytics.tasks.alerts_evaluate", ignore_result=True)
def alerts_evaluate() -> int:
    return len(rules_evaluate(now=timezone.now()))


@shared_task(name="analytics.tasks.policies_refresh", ignore_result=True)
def policies_refresh() -> int:
    return policies_refresh_all()


@shared_task(name="analytics.tasks.rollup_rebuild", ignore_result=True)
def rollup_rebuild(start: str, end: str) -> int:
    return daily_usage_rebuild(start=date.fromisoformat(start), end=date.fromisoformat(end))
