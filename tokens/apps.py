from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens and usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import tokens.live  # noqa: F401  (announces new usage as live events)
        from tokens import pricing  # noqa: F401  (connects catalog invalidation)
