from django.apps import AppConfig


class LiveConfig(AppConfig):
    """Live usage: the WebSocket consumer and the /live/ page."""

    name = "live"
    verbose_name = "Live usage"
