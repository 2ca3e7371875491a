from django.apps import AppConfig


class OptimizationConfig(AppConfig):
    """Token-saving services: compression, context fitting, chunking, data requests, cache, templates, savings."""

    name = "optimization"
    verbose_name = "Token-saving services"
    default_auto_field = "django.db.models.BigAutoField"
