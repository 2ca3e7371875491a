"""The gateway straight on ASGI: /gateway/ is answered here, before Django's middleware stack.

``GatewayRouter(django_app)`` sends /gateway/ requests to ``gateway_handle`` and everything else to
Django. The gateway needs no session, CSRF, static files or messages, and skipping them keeps the
added latency to the call's own work (docs/benchmarks.md). A client that disconnects mid-stream
stops the relay (the hold is released and what was used recorded).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

from django.conf import settings

from gateway.handler import ROUTES, gateway_handle
from gateway.providers import OPENAI, error_body


class GatewayRouter:
    def __init__(self, fallback) -> None:
        self.fallback = fallback

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/gateway/"):
            return await gateway_asgi(scope, receive, send)
        return await self.fallback(scope, receive, send)


async def _send_json(send, status: int, data: dict) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


async def gateway_asgi(scope, receive, send) -> None:
    name = ROUTES.get(scope["path"])
    if name is None:
        return await _send_json(send, 404, error_body(OPENAI, 404, "No such gateway endpoint.", code="not_found"))
    body, limit = bytearray(), settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if len(body) > limit:
            provider = "anthropic" if name == "messages" else OPENAI
            return await _send_json(send, 413, error_body(provider, 413, "The request body is larger than the "
                                                          "server accepts.", code="body_too_large"))
        if not message.get("more_body"):
            break
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    address = (scope.get("client") or ("", 0))[0]
    reply = await gateway_handle(name=name, method=scope["method"], headers=headers, body=bytes(body),
                                 address=address)
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    if reply.stream is None:
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
    relay = asyncio.create_task(_relay(reply.stream, send))
    gone = asyncio.create_task(_disconnected(receive))
    try:
        await asyncio.wait([relay, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, gone):
            if not task.done():
                task.cancel()
        await asyncio.gather(relay, gone, return_exceptions=True)


async def _relay(stream, send) -> None:
    async with aclosing(stream) as chunks:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
