from django.apps import AppConfig


class TokensConfig(AppConfig):
    """The metering core: price catalog and pricing, token counting, the usage ledger, runs, API keys."""

    name = "tokens"
    verbose_name = "Tokens and usage"
    default_auto_field = "django.db.models.BigAutoField"
