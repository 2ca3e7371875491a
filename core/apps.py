from django.apps import AppConfig
from django.urls import register_converter


class CoreConfig(AppConfig):
    """The ground layer: money, domain errors, database helpers, the event bus, API plumbing."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.api.params import IdConverter, TextIdConverter

        # Before any app's urls.py is read: the API's path ids use them (<text_id:run_id>, <id:budget_id>).
        register_converter(TextIdConverter, "text_id")
        register_converter(IdConverter, "id")
