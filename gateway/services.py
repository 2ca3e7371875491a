"""Writes: provider credentials (admin), and settling a gateway call once its response is over."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.utils import timezone

from budgets.services import reservation_release
from core.errors import Conflict, InvalidInput, NotFound
from gateway.calls import Call
from gateway.crypto import hint, seal
from gateway.models import ProviderCredential
from gateway.providers import estimated_usage
from ingestion.services import usage_ingest
from tokens.tokenizer import count_text

logger = logging.getLogger(__name__)


def provider_credential_save(*, credential: ProviderCredential, api_key: str | None) -> ProviderCredential:
    """Save an organization's upstream; a new ``api_key`` is encrypted (None or "" keeps the stored one)."""
    if api_key:
        if len(api_key) > 1000 or api_key != api_key.strip():
            raise InvalidInput("A provider key is at most 1000 characters, without surrounding spaces.",
                               fields={"api_key": ["At most 1000 characters, without surrounding spaces."]})
        credential.api_key_sealed = seal(api_key)
        credential.api_key_hint = hint(api_key)
    credential.updated_at = timezone.now()
    credential.save()
    return credential


@dataclass
class Outcome:
    """How a call's response ended and what the provider said it used."""

    ended: str  # complete, client_disconnected, upstream_error, upstream_status_<n>, upstream_unreachable
    usage: dict | None = None  # the provider's own usage object (final)
    partial_usage: dict | None = None  # what a cut stream said before it ended (Anthropic's message_start)
    text: list[str] = field(default_factory=list)  # output relayed so far (to count a cut stream's output)
    model: str = ""
    upstream_id: str = ""
    status: int = 200
    finished: float = field(default_factory=time.perf_counter)  # when the response ended (for latency_ms)


def gateway_settle_many(*, items: list[tuple[Call, Outcome]]) -> list[str]:
    """End calls: record their usage and commit their holds, or release the holds and record what was used.

    A complete response's usage commits its hold (the record names the reservation). A call cut short
    (the client left, the upstream failed) releases its hold, then records what was used: the
    provider's partial counts, else the counted prompt and the output relayed so far, so a stream that
    used tokens never records $0. An upstream error before any output records nothing. One ingestion
    per caller and key for the whole batch. Returns the request_ids recorded.
    """
    groups: dict[tuple[int, int], list[tuple[Call, dict]]] = {}
    for call, outcome in items:
        payload = _settle_one(call, outcome)
        if payload is not None:
            groups.setdefault((call.user.pk, call.api_key.pk), []).append((call, payload))
    recorded = []
    for calls in groups.values():
        first = calls[0][0]
        results = usage_ingest(user=first.user, api_key=first.api_key, payloads=[p for _, p in calls])
        for result, (call, _) in zip(results, calls, strict=True):
            if result.status == "invalid":
                logger.warning("gateway usage of %s not recorded: %s", call.request_id, result.errors)
            else:
                recorded.append(call.request_id)
    return recorded


def gateway_settle(*, call: Call, outcome: Outcome) -> str | None:
    """One call's settlement (``gateway_settle_many`` of one)."""
    recorded = gateway_settle_many(items=[(call, outcome)])
    return recorded[0] if recorded else None


def _settle_one(call: Call, outcome: Outcome) -> dict | None:
    """Release the hold of a call cut short; the usage record to store, if any."""
    final = outcome.ended == "complete" and outcome.usage is not None
    if not final and call.reservation_id is not None:
        try:
            reservation_release(user=call.user, reservation_id=call.reservation_id)
        except (Conflict, NotFound):  # expired meanwhile: nothing held any more
            pass
    usage = outcome.usage if outcome.usage is not None else _used_so_far(call, outcome)
    if usage is None:
        return None
    return {
        "request_id": call.request_id,
        "model": outcome.model or call.model,
        "usage": usage,
        "usage_format": call.endpoint.usage_format,
        "agent": call.agent,
        "run_id": call.run_id,
        "reservation_id": str(call.reservation_id) if final and call.reservation_id else None,
        "latency_ms": int((outcome.finished - call.started) * 1000),
        "tags": call.tags,
        "metadata": {
            "source": "gateway", "provider": call.endpoint.provider, "endpoint": call.endpoint.name,
            "tags": call.tags, "upstream_id": outcome.upstream_id[:200], "ended": outcome.ended,
            "estimated": outcome.usage is None,
        },
    }


def _used_so_far(call: Call, outcome: Outcome) -> dict | None:
    """Usage of a call cut short: None if it produced nothing and the provider never started."""
    output = count_text("".join(outcome.text), call.model, call.endpoint.provider).tokens if outcome.text else 0
    if outcome.ended.startswith("upstream_") and not output and outcome.partial_usage is None:
        return None  # refused or unreachable upstream: no tokens were used
    return estimated_usage(call.endpoint, known=outcome.partial_usage, input_tokens=call.input_tokens,
                           output_tokens=output)
