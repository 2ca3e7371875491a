from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics import services, tasks  # noqa: F401  (registers the periodic tasks in every process)
        from tokens.signals import usage_recorded, usage_repriced

        usage_recorded.connect(services.on_usage_recorded, dispatch_uid="analytics_rollup_recorded")
        usage_repriced.connect(services.on_usage_repriced, dispatch_uid="analytics_rollup_repriced")
