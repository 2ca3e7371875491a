"""One gateway request, whatever serves it: parse, begin (auth, attribution, admission), forward."""

from __future__ import annotations

import json
from collections.abc import Mapping

from channels.db import database_sync_to_async

from core.errors import DomainError
from gateway.calls import GatewayError, gateway_begin
from gateway.providers import ENDPOINTS, BadRequest, wants_stream
from gateway.relay import Reply, error_reply, forward

# Path under /gateway/ -> endpoint name.
ROUTES = {
    "/gateway/openai/v1/chat/completions": "chat.completions",
    "/gateway/openai/v1/responses": "responses",
    "/gateway/openai/v1/embeddings": "embeddings",
    "/gateway/anthropic/v1/messages": "messages",
}


async def gateway_handle(*, name: str, method: str, headers: Mapping[str, str], body: bytes, address: str) -> Reply:
    """Answer one provider call; every refusal is a 4xx (or 503 for a missing provider key) in the
    provider's error shape."""
    endpoint = ENDPOINTS[name]
    provider = endpoint.provider
    if method != "POST":
        return error_reply(provider, 405, "Use POST.", code="method_not_allowed")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return error_reply(provider, 400, "The body must be JSON.", code="invalid_json")
    if not isinstance(data, dict):
        return error_reply(provider, 400, "The body must be a JSON object.", code="invalid_json")
    try:
        stream = wants_stream(endpoint, data)
        # Not thread-sensitive: served ahead of Django there is no per-request thread, and one shared
        # thread would serialise every call's admission in the process.
        call = await database_sync_to_async(gateway_begin, thread_sensitive=False)(
            headers=headers, address=address, endpoint=endpoint, body=data)
    except BadRequest as exc:
        return error_reply(provider, 400, exc.message, code="invalid_request", param=exc.param)
    except GatewayError as exc:
        return error_reply(provider, exc.status, exc.message, code=exc.code, param=exc.param, headers=exc.headers)
    except DomainError as exc:  # an organization's stored key cannot be read: its admin must re-enter it
        return error_reply(provider, 503, exc.message, code=exc.code)
    return await forward(call, data, headers, stream=stream)
