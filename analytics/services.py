"""Writes of the analytics app: optimization policies (the rollups are in analytics.rollups)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics.models import Alert, DailyUsage, OptimizationPolicy
from analytics.optimizer import policy_recommend


def _day_of(moment: datetime):
    return moment.astimezone(UTC).date()


def policy_refresh(*, user, now: datetime | None = None) -> OptimizationPolicy:
    """Recompute the AutoTokenOptimizer's policy for ``user`` unless an admin pinned it."""
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


def alert_acknowledge(*, alert: Alert, by) -> Alert:
    """Mark an alert seen; acknowledging twice keeps the first time and person (idempotent)."""
    Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=by
    )
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    return alert
