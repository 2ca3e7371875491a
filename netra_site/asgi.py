"""ASGI entry point: HTTP through Django (the gateway ahead of it), WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from gateway.asgi import GatewayRouter  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402
from netra_site.embedded_beat import start_embedded_beat  # noqa: E402

application = ProtocolTypeRouter(
    {
        # /gateway/ straight to the provider gateway (no middleware stack); the rest through Django.
        "http": GatewayRouter(django_asgi_app),
        # No blanket Origin check here: bearer-key clients send no Origin, and
        # the consumer checks it where it matters (session cookies).
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)

start_embedded_beat()
