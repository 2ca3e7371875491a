from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground layer: money, domain errors, database helpers, the event bus, API plumbing."""

    name = "core"
    verbose_name = "Core"
