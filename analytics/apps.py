from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Rollups, reports, dashboards, alerts and their rules, optimization policies, metrics."""

    name = "analytics"
    verbose_name = "Analytics and alerts"
    default_auto_field = "django.db.models.BigAutoField"
