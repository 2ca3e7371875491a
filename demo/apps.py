from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for a first start and the agent simulator."""

    name = "demo"
    verbose_name = "Demo"
