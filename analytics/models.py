"""Alerts (shared by budgets and analytics rules)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Alert(models.Model):
    """One alert per condition and window; ``dedupe_key`` makes raising idempotent."""

    KIND_BUDGET_THRESHOLD = "budget_threshold"
    KIND_USAGE_SPIKE = "usage_spike"
    KIND_LOW_CACHE_HIT_RATE = "low_cache_hit_rate"
    KIND_OPTIMIZATION_FAILURES = "optimization_failures"
    KINDS = [
        (KIND_BUDGET_THRESHOLD, "budget threshold crossed"),
        (KIND_USAGE_SPIKE, "usage spike"),
        (KIND_LOW_CACHE_HIT_RATE, "low cache hit rate"),
        (KIND_OPTIMIZATION_FAILURES, "optimization failure rate"),
    ]
    SEVERITIES = [("info", "info"), ("warning", "warning"), ("critical", "critical")]

    kind = models.CharField(max_length=32, choices=KINDS)
    severity = models.CharField(max_length=16, choices=SEVERITIES, default="warning")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    dedupe_key = models.CharField(max_length=255, unique=True)
    budget_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    window_start = models.DateTimeField(null=True, blank=True)
    threshold = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    percent_used = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    message = models.TextField()
    figures = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="alert_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"
