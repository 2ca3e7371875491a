"""WebSocket URL routes. Apps append their consumers here."""

from django.urls import path

from tokens.consumers import UsageConsumer

websocket_urlpatterns: list = [
    path("ws/usage/", UsageConsumer.as_asgi()),
]
