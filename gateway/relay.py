"""The async half of the gateway: forward a call upstream with httpx and relay its answer, chunk by chunk.

``forward`` answers with a ``Reply`` (status, headers, and a body or an async stream of chunks) that the
ASGI app (gateway.asgi) or the Django views send. Settling the call runs after the response, batched
(gateway.settlement), so the caller never waits for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from gateway.calls import Call
from gateway.providers import ANTHROPIC, StreamReader, ask_for_usage, error_body, response_usage
from gateway.services import Outcome
from gateway.settlement import settle_later

# Request headers passed upstream as they came (the key, cookies and x-netra-* never are).
FORWARDED = ("anthropic-version", "anthropic-beta", "openai-beta", "openai-organization", "openai-project",
             "idempotency-key", "user-agent")
# Response headers passed back to the caller.
RELAYED_PREFIXES = ("x-ratelimit-", "anthropic-", "openai-")
RELAYED = ("content-type", "x-request-id", "request-id", "retry-after")
JSON_TYPE = "application/json"

_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


@dataclass
class Reply:
    """What to answer: a whole body, or a stream of chunks relayed as they come."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def http_client() -> httpx.AsyncClient:
    """One pooled client per event loop (a server has one loop; tests may run several)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        timeout = httpx.Timeout(settings.NETRA_GATEWAY_TIMEOUT_SECONDS, connect=10.0)
        client = _clients[loop] = httpx.AsyncClient(timeout=timeout, trust_env=False,
                                                    limits=httpx.Limits(max_connections=1000,
                                                                        max_keepalive_connections=100))
    return client


def error_reply(provider: str, status: int, message: str, *, code: str, param: str | None = None,
                headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(error_body(provider, status, message, code=code, param=param)).encode()
    return Reply(status=status, headers={"content-type": JSON_TYPE, **(headers or {})}, body=body)


def _upstream_headers(call: Call, incoming) -> dict[str, str]:
    headers = {name: incoming[name] for name in FORWARDED if incoming.get(name)}
    headers.update({"content-type": JSON_TYPE, "accept-encoding": "identity"})
    if call.endpoint.provider == ANTHROPIC:
        headers["x-api-key"] = call.upstream.api_key
        headers.setdefault("anthropic-version", "2023-06-01")
    else:
        headers["authorization"] = f"Bearer {call.upstream.api_key}"
    return headers


def _call_headers(call: Call) -> dict[str, str]:
    headers = {"x-netra-request-id": call.request_id}
    if call.reservation_id:
        headers["x-netra-reservation-id"] = str(call.reservation_id)
    return headers


def _relayed_headers(call: Call, upstream: httpx.Response) -> dict[str, str]:
    headers = {name: value for name, value in upstream.headers.items()
               if name in RELAYED or name.startswith(RELAYED_PREFIXES)}
    return {**headers, **_call_headers(call)}


async def forward(call: Call, body: dict, incoming_headers, *, stream: bool) -> Reply:
    """Send the call upstream and answer with what the provider answered (streamed as it comes)."""
    provider = call.endpoint.provider
    asked_for_usage = True
    if stream:
        body, asked_for_usage = ask_for_usage(call.endpoint, body)
    client = http_client()
    request = client.build_request("POST", call.upstream.base_url + call.endpoint.path,
                                   content=json.dumps(body).encode(), headers=_upstream_headers(call, incoming_headers))
    try:
        upstream = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        settle_later(call, Outcome(ended="upstream_unreachable", status=502))
        return error_reply(provider, 502, f"The upstream {provider} API could not be reached: "
                           f"{type(exc).__name__}.", code="upstream_unreachable", headers=_call_headers(call))
    headers = _relayed_headers(call, upstream)
    if upstream.status_code >= 400 or not upstream.headers.get("content-type", "").startswith("text/event-stream"):
        try:
            content = await upstream.aread()
        except httpx.HTTPError:
            settle_later(call, Outcome(ended="upstream_error", status=502), upstream)
            return error_reply(provider, 502, "The upstream response broke off.", code="upstream_error",
                               headers=_call_headers(call))
        await upstream.aclose()
        settle_later(call, _whole_outcome(upstream.status_code, content))
        return Reply(status=upstream.status_code, headers=headers, body=content)
    headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
    return Reply(status=upstream.status_code, headers=headers,
                 stream=_relay(call, upstream, StreamReader(call.endpoint), not asked_for_usage))


def _whole_outcome(status: int, content: bytes) -> Outcome:
    if status >= 400:
        return Outcome(ended=f"upstream_status_{status}", status=status)
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    usage = response_usage(data)
    return Outcome(ended="complete" if usage is not None else "upstream_error", usage=usage, status=status,
                   model=str(data.get("model") or "") if isinstance(data, dict) else "",
                   upstream_id=str(data.get("id") or "") if isinstance(data, dict) else "")


async def _relay(call: Call, upstream: httpx.Response, reader: StreamReader, hide_usage: bool) -> AsyncIterator[bytes]:
    """Relay the upstream's events as they arrive, reading usage on the way; always settle at the end.

    A client that disconnects cancels or closes this generator: the upstream is closed, the hold
    released and what was used so far recorded.
    """
    ended = "client_disconnected"
    try:
        async for chunk in upstream.aiter_bytes():
            events = reader.feed(chunk)
            if hide_usage:  # whole events only, less the usage-only chunk the caller did not ask for
                chunk = b"".join(e for e in events if not StreamReader.is_usage_only_chunk(e))
            if chunk:
                yield chunk
        if hide_usage and reader.buffer:
            yield reader.buffer
        ended = "complete" if reader.usage is not None and not reader.error else "upstream_error"
    except httpx.HTTPError as exc:
        ended = "upstream_error"
        # Tell the caller in the provider's own stream error event, as the SDKs expect it.
        yield stream_error_event(call.endpoint.provider, f"The upstream stream broke off: {type(exc).__name__}.")
    finally:
        final = ended == "complete" and _final_usage(call, reader)
        settle_later(call, Outcome(ended=ended, usage=reader.usage if final else None,
                                   partial_usage=None if final else reader.usage, text=reader.text,
                                   model=reader.model, upstream_id=reader.upstream_id), upstream)


def stream_error_event(provider: str, message: str) -> bytes:
    if provider == ANTHROPIC:
        data = error_body(provider, 502, message, code="upstream_error")
        return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"
    data = {"type": "error", **error_body(provider, 502, message, code="upstream_error")}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _final_usage(call: Call, reader: StreamReader) -> bool:
    """Whether the usage read is the provider's final word (Anthropic's needs its message_delta)."""
    if call.endpoint.provider == ANTHROPIC:
        return reader.complete
    return reader.usage is not None
