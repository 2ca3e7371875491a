from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    """Budgets, their calendar windows, pre-call reservations and enforcement."""

    name = "budgets"
    verbose_name = "Budgets"
    default_auto_field = "django.db.models.BigAutoField"
