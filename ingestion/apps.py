from django.apps import AppConfig


class IngestionConfig(AppConfig):
    """The ingestion pipeline: usage from the API (and later the gateway and OTLP) into every ledger and view."""

    name = "ingestion"
    verbose_name = "Ingestion"
