"""A gateway call from the caller's request to its settlement: who calls, attributed how, held how.

``gateway_begin`` runs every step before forwarding, in order, in one thread hop; ``gateway_settle``
(gateway.services) ends it. Both are synchronous (the ORM); the async relay calls them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from core.api.throttles import auth_failures
from core.db import uuid7
from core.validation import text_error
from gateway.admission import Admission, gateway_admit
from gateway.providers import ANTHROPIC, Endpoint, max_output, prompt_tokens, request_model
from gateway.selectors import Upstream, upstream_for
from organizations.selectors import organization_for
from tokens.auth import api_key_from_header
from tokens.models import ApiKey
from tokens.services import api_key_touch
from tokens.usage_input import MAX_TAG_LENGTH, MAX_TAGS


class GatewayError(Exception):
    """A call refused before forwarding, answered with ``status`` in the provider's error shape."""

    def __init__(self, status: int, message: str, *, code: str, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.headers = headers or {}


@dataclass
class Call:
    """Everything the relay and the settlement need to know about one admitted call."""

    endpoint: Endpoint
    user: object
    api_key: ApiKey
    organization: object
    upstream: Upstream
    model: str
    agent: str
    run_id: str
    tags: list[str]
    input_tokens: int
    admission: Admission
    request_id: str = field(default_factory=lambda: f"gw-{uuid7()}")
    started: float = field(default_factory=time.perf_counter)

    @property
    def reservation_id(self) -> uuid.UUID | None:
        return self.admission.reservation_id


def caller_key(headers, address: str) -> ApiKey:
    """The Netra key of ``Authorization: Bearer`` or ``x-api-key``; repeated failures per address are limited."""
    failures = auth_failures()
    if failures is not None and failures.count(address) >= failures.limit:
        raise GatewayError(429, "Too many failed API key attempts.", code="rate_limit_exceeded",
                           headers={"retry-after": str(failures.wait())})
    authorization = headers.get("authorization") or ""
    raw = headers.get("x-api-key") or ""
    if not authorization and not raw:
        raise GatewayError(401, "Missing Netra API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                           code="missing_api_key")
    key = api_key_from_header(authorization if authorization else f"Bearer {raw}")
    if key is None:
        if failures is not None:
            failures.hit(address)
        raise GatewayError(401, "Invalid or revoked Netra API key.", code="invalid_api_key")
    api_key_touch(key=key)
    return key


def _header_text(headers, name: str, max_length: int) -> str:
    value = (headers.get(name) or "").strip()
    problem = text_error(value, max_length) if value else None
    if problem:
        raise GatewayError(400, f"Invalid {name} header: {problem}", code="invalid_header", param=name)
    return value


def attribution(headers) -> tuple[str, str, list[str]]:
    """(agent, run_id, tags) from ``x-netra-agent``, ``x-netra-run-id`` and ``x-netra-tags`` (comma-separated)."""
    agent = _header_text(headers, "x-netra-agent", 100) or "default"
    run_id = _header_text(headers, "x-netra-run-id", 200)
    tags: list[str] = []
    for tag in _header_text(headers, "x-netra-tags", 2000).split(","):
        tag = tag.strip()
        if tag and tag not in tags:
            if len(tag) > MAX_TAG_LENGTH:
                raise GatewayError(400, f"Invalid x-netra-tags header: a tag has at most {MAX_TAG_LENGTH} characters.",
                                   code="invalid_header", param="x-netra-tags")
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise GatewayError(400, f"Invalid x-netra-tags header: at most {MAX_TAGS} tags.", code="invalid_header",
                           param="x-netra-tags")
    return agent, run_id, tags


_upstreams: dict[tuple[int, int | None, str], tuple[float, object, Upstream]] = {}


def caller_upstream(key: ApiKey, provider: str) -> tuple[object, Upstream]:
    """The key's organization and its upstream for ``provider``, cached per process for
    NETRA_GATEWAY_CACHE_SECONDS (a credential changed in admin applies everywhere within that time)."""
    cache_key, now = (key.user_id, key.project_id, provider), time.monotonic()
    cached = _upstreams.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    organization = organization_for(key.user, key.project)
    upstream = upstream_for(organization=organization, provider=provider)
    if settings.NETRA_GATEWAY_CACHE_SECONDS > 0:
        if len(_upstreams) > 10_000:
            _upstreams.clear()
        _upstreams[cache_key] = (now + settings.NETRA_GATEWAY_CACHE_SECONDS, organization, upstream)
    return organization, upstream


def gateway_begin(*, headers, address: str, endpoint: Endpoint, body: dict) -> Call:
    """Every step before forwarding, in order: the caller's key, the attribution headers, the
    organization's upstream, the request's model, prompt and output cap, then admission (limits,
    budgets, the hold). Raises GatewayError with the answer to send."""
    key = caller_key(headers, address)  # 1. who calls
    agent, run_id, tags = attribution(headers)  # 2. attributed to what
    organization, upstream = caller_upstream(key, endpoint.provider)  # 3. whose upstream
    if not upstream.api_key:
        name = "ANTHROPIC" if endpoint.provider == ANTHROPIC else "OPENAI"
        raise GatewayError(503, f"No {endpoint.provider} API key is configured for this organization "
                                f"(admin: Gateway > Provider credentials) nor in NETRA_{name}_API_KEY.",
                           code="provider_not_configured")
    model = request_model(body)  # 4. what it asks for
    input_tokens = prompt_tokens(endpoint, body, model)
    cap = max_output(endpoint, body)
    admission = gateway_admit(user=key.user, api_key=key, agent=agent, run_id=run_id, model=model,  # 5.
                              input_tokens=input_tokens, max_output_tokens=cap, tags=tags)
    if not admission.allowed:
        raise GatewayError(admission.status, admission.message, code=admission.code, headers=admission.headers)
    return Call(endpoint=endpoint, user=key.user, api_key=key, organization=organization, upstream=upstream,
                model=model, agent=agent, run_id=run_id, tags=tags, input_tokens=input_tokens, admission=admission)
