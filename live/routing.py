"""WebSocket routes: the live usage socket."""

from django.urls import path

from live.consumers import UsageConsumer

websocket_urlpatterns: list = [
    path("ws/usage/", UsageConsumer.as_asgi()),
]
