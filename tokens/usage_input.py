"""Validation and normalization of posted usage records.

Hand-written rather than a DRF serializer because a batch of 1000 records is
validated on the ingestion hot path. Its contract is
``tokens.serializers.UsageRecordInputSerializer``, which the OpenAPI schema is
generated from; tests/api/test_usage_contract.py holds this validator to every
field, type, bound and choice that serializer declares (docs/api.md, "One contract").

Provider usage shapes, each token priced once at its own rate:

* OpenAI Chat Completions: ``prompt_tokens`` INCLUDES
  ``prompt_tokens_details.cached_tokens`` (and ``cache_write_tokens`` where
  reported); ``completion_tokens`` INCLUDES
  ``completion_tokens_details.reasoning_tokens``.
* OpenAI Responses: ``input_tokens`` includes ``input_tokens_details.cached_tokens``
  and ``cache_write_tokens``; ``output_tokens`` includes
  ``output_tokens_details.reasoning_tokens``.
* Anthropic Messages: ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.limits import MAX_TOKENS
from tokens.pricing import TokenCounts

USAGE_FORMATS = ("openai_chat", "openai_responses", "anthropic")
MAX_LATENCY_MS = 2_147_483_647  # the latency_ms column is a 32-bit integer on PostgreSQL


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class UsageInput:
    request_id: str
    model: str
    counts: TokenCounts
    usage_format: str
    occurred_at: datetime
    agent: str = "default"
    tool: str = ""
    run_id: str = ""
    user: str | None = None
    optimization_technique: str = ""
    original_tokens: int | None = None
    cache_hit: bool = False
    reservation_id: uuid.UUID | None = None
    latency_ms: int | None = None
    metadata: dict = field(default_factory=dict)


def _int(value: Any, name: str, errors: dict, *, maximum: int = MAX_TOKENS, unit: str = "tokens") -> int:
    """A non-negative JSON integer up to ``maximum`` (token counts by default)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(name, []).append("Must be a non-negative integer.")
        return 0
    if value < 0:
        errors.setdefault(name, []).append("Must be a non-negative integer.")
        return 0
    if value > maximum:
        errors.setdefault(name, []).append(f"At most {maximum:,} {unit}.")
        return 0
    return value


def _obj(value: Any, name: str, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.setdefault(name, []).append("Must be an object.")
        return {}
    return value


def _p(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


def detect_format(usage: dict, provider: str = "") -> str:
    """Which SDK produced ``usage``. Chat has prompt_tokens; Responses has
    total_tokens or *_details; Anthropic has cache_* fields or neither."""
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return "openai_chat"
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        return "anthropic"
    if "total_tokens" in usage or "input_tokens_details" in usage or "output_tokens_details" in usage:
        return "openai_responses"
    return "anthropic" if provider in ("", "anthropic") else "openai_responses"


# The counts of each shape: a usage object must carry at least one (an explicit 0 counts).
COUNT_KEYS = {
    "openai_chat": ("prompt_tokens", "completion_tokens"),
    "openai_responses": ("input_tokens", "output_tokens"),
    "anthropic": ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"),
}


def normalize_usage(usage: dict, fmt: str, errors: dict, prefix: str = "usage") -> TokenCounts:
    """Split a provider usage object into the five normalized classes."""
    keys = COUNT_KEYS[fmt]
    if all(usage.get(key) is None for key in keys):
        # Nothing to price: storing a 0-token record would hide a client bug.
        errors.setdefault(prefix or keys[0], []).append(
            f"At least one token count is required ({', '.join(keys)})."
        )
        return TokenCounts()
    if fmt in ("openai_chat", "openai_responses"):
        chat = fmt == "openai_chat"
        in_key, out_key = ("prompt_tokens", "completion_tokens") if chat else ("input_tokens", "output_tokens")
        in_det, out_det = f"{in_key}_details", f"{out_key}_details"
        prompt = _int(usage.get(in_key), f"{_p(prefix)}{in_key}", errors)
        completion = _int(usage.get(out_key), f"{_p(prefix)}{out_key}", errors)
        pdet = _obj(usage.get(in_det), f"{_p(prefix)}{in_det}", errors)
        cdet = _obj(usage.get(out_det), f"{_p(prefix)}{out_det}", errors)
        cached = _int(pdet.get("cached_tokens"), f"{_p(prefix)}{in_det}.cached_tokens", errors)
        # OpenAI reports cache writes as a breakdown of the prompt, like cached reads.
        written = _int(pdet.get("cache_write_tokens"), f"{_p(prefix)}{in_det}.cache_write_tokens", errors)
        reasoning = _int(cdet.get("reasoning_tokens"), f"{_p(prefix)}{out_det}.reasoning_tokens", errors)
        # A rejected total reads as 0: compare the breakdown only with a valid one.
        if cached + written > prompt and f"{_p(prefix)}{in_key}" not in errors:
            errors.setdefault(f"{_p(prefix)}{in_det}.cached_tokens", []).append(
                f"cached_tokens plus cache_write_tokens cannot exceed {in_key} "
                "(OpenAI counts them inside it)."
            )
            cached = written = 0
        if reasoning > completion and f"{_p(prefix)}{out_key}" not in errors:
            errors.setdefault(f"{_p(prefix)}{out_det}.reasoning_tokens", []).append(
                f"Cannot exceed {out_key} (OpenAI counts reasoning tokens inside it)."
            )
            reasoning = 0
        return TokenCounts(
            input=prompt - cached - written,
            cached_input=cached,
            cache_write=written,
            output=completion - reasoning,
            reasoning=reasoning,
        )
    # Anthropic: input_tokens excludes both cache classes.
    return TokenCounts(
        input=_int(usage.get("input_tokens"), f"{_p(prefix)}input_tokens", errors),
        cached_input=_int(usage.get("cache_read_input_tokens"), f"{_p(prefix)}cache_read_input_tokens", errors),
        cache_write=_int(
            usage.get("cache_creation_input_tokens"), f"{_p(prefix)}cache_creation_input_tokens", errors
        ),
        output=_int(usage.get("output_tokens"), f"{_p(prefix)}output_tokens", errors),
    )


def _str(data: dict, name: str, errors: dict, *, required: bool = False, max_length: int = 200,
         default: str = "") -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append("This field is required.")
        return default
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be a string.")
        return default
    value = value.strip()
    if len(value) > max_length:
        errors.setdefault(name, []).append(f"At most {max_length} characters.")
        return default
    return value


def parse_occurred_at(value: Any, errors: dict, now: datetime) -> datetime:
    if value is None:
        return now
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        errors.setdefault("occurred_at", []).append("Must be an ISO 8601 timestamp.")
        return now
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)  # documented: naive means UTC
    if parsed > now + timedelta(seconds=settings.NETRA_MAX_FUTURE_SECONDS):
        errors.setdefault("occurred_at", []).append("Cannot be more than 5 minutes in the future.")
        return now
    if parsed < settings.NETRA_EARLIEST_OCCURRED_AT:
        errors.setdefault("occurred_at", []).append(
            f"Cannot be before {settings.NETRA_EARLIEST_OCCURRED_AT:%Y-%m-%d}."
        )
        return now
    return parsed


def parse_usage_record(data: Any, *, provider_of=None, now: datetime | None = None) -> UsageInput:
    """Validate one posted record. Raises FieldErrors naming every bad field.

    ``provider_of(model) -> str`` helps tell Anthropic from Responses usage
    when the object alone is ambiguous.
    """
    if not isinstance(data, dict):
        raise FieldErrors({"non_field_errors": ["Each record must be a JSON object."]})
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    request_id = _str(data, "request_id", errors, required=True)
    model = _str(data, "model", errors, required=True)
    agent = _str(data, "agent", errors, max_length=100, default="default") or "default"
    tool = _str(data, "tool", errors, max_length=100)
    run_id = _str(data, "run_id", errors)
    user = _str(data, "user", errors, max_length=150) or None

    fmt = data.get("usage_format") or ""
    if fmt and fmt not in USAGE_FORMATS:
        errors.setdefault("usage_format", []).append(f"Must be one of {', '.join(USAGE_FORMATS)}.")
        fmt = ""
    usage = data.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            errors.setdefault("usage", []).append("Must be the provider's usage object.")
            counts = TokenCounts()
        else:
            provider = provider_of(model) if (provider_of and model) else ""
            fmt = fmt or detect_format(usage, provider)
            counts = normalize_usage(usage, fmt, errors)
    elif "prompt_tokens" in data or "completion_tokens" in data:
        # Flat prompt_tokens/completion_tokens are read as Chat Completions usage.
        fmt = "openai_chat"
        counts = normalize_usage(data, fmt, errors, prefix="")
    else:
        errors.setdefault("usage", []).append(
            "Provide the provider's usage object, or prompt_tokens and completion_tokens."
        )
        counts = TokenCounts()

    occurred_at = parse_occurred_at(data.get("occurred_at"), errors, now)

    technique, original_tokens = "", None
    optimization = data.get("optimization")
    if optimization is not None:
        if not isinstance(optimization, dict):
            errors.setdefault("optimization", []).append("Must be an object {technique, original_tokens}.")
        else:
            technique = _str(optimization, "technique", errors, max_length=100)
            if "technique" in errors:
                errors["optimization.technique"] = errors.pop("technique")
            if optimization.get("original_tokens") is not None:
                original_tokens = _int(
                    optimization.get("original_tokens"), "optimization.original_tokens", errors
                )

    cache_hit = data.get("cache_hit", False)
    if not isinstance(cache_hit, bool):
        errors.setdefault("cache_hit", []).append("Must be true or false.")
        cache_hit = False

    reservation_id = None
    if data.get("reservation_id") not in (None, ""):
        try:
            reservation_id = uuid.UUID(str(data["reservation_id"]))
        except ValueError:
            errors.setdefault("reservation_id", []).append("Must be a reservation id (UUID).")

    latency_ms = None
    if data.get("latency_ms") is not None:
        latency_ms = _int(data["latency_ms"], "latency_ms", errors, maximum=MAX_LATENCY_MS, unit="ms")

    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        errors.setdefault("metadata", []).append("Must be an object.")
        metadata = {}
    elif len(json.dumps(metadata, separators=(",", ":")).encode()) > settings.NETRA_MAX_METADATA_BYTES:
        errors.setdefault("metadata", []).append("At most 8 KB of JSON.")
        metadata = {}

    if errors:
        raise FieldErrors(errors)
    return UsageInput(
        request_id=request_id,
        model=model,
        counts=counts,
        usage_format=fmt,
        occurred_at=occurred_at,
        agent=agent,
        tool=tool,
        run_id=run_id,
        user=user,
        optimization_technique=technique,
        original_tokens=original_tokens,
        cache_hit=cache_hit,
        reservation_id=reservation_id,
        latency_ms=latency_ms,
        metadata=metadata,
    )
