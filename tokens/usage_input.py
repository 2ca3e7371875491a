"""Validation and normalization of posted usage records.

Hand-written rather than a DRF serializer because a batch of 1000 records is
validated on the ingestion hot path. Its contract is
``tokens.serializers.UsageRecordInputSerializer``, which the OpenAPI schema is
generated from; tests/api/test_usage_contract.py holds this validator to every
field, type, bound and choice that serializer declares (docs/api.md, "One contract").
``tokens.usage_shapes`` reads each provider's usage object.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.limits import MAX_TOKENS
from core.validation import json_text_errors, json_text_is_clean, parse_iso_datetime, string_error, text_error
from tokens.pricing import UNIT_NAMES, UNIT_QUALIFIERS, TokenCounts
from tokens.usage_shapes import USAGE_FORMATS, Shape, _int, _obj, detect_format, normalize_usage

__all__ = ["USAGE_FORMATS", "FieldErrors", "UsageInput", "detect_format", "normalize_usage", "parse_usage_record"]
MAX_LATENCY_MS = 2_147_483_647  # the latency_ms column is a 32-bit integer on PostgreSQL
# The keys of a record without usage that are read as Chat Completions usage.
FLAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")


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
    tags: list[str] = field(default_factory=list)
    units: dict = field(default_factory=dict)
    service_tier: str = ""
    provider_cost: Decimal | None = None


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
    problem = text_error(value)
    if problem:
        errors.setdefault(name, []).append(problem)
        return default
    value = value.strip()
    if len(value) > max_length:
        errors.setdefault(name, []).append(f"At most {max_length} characters.")
        return default
    return value


def parse_occurred_at(value: Any, errors: dict, now: datetime) -> datetime:
    if value is None:
        return now
    # Impossible dates, offsets of a day or more and trailing text are refused; naive means UTC.
    parsed = parse_iso_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        errors.setdefault("occurred_at", []).append("Must be an ISO 8601 timestamp.")
        return now
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
    units_given = data.get("units") is not None
    shape = Shape()
    if usage is not None:
        if not isinstance(usage, dict):
            errors.setdefault("usage", []).append("Must be the provider's usage object.")
        else:
            provider = provider_of(model) if (provider_of and model) else ""
            fmt = fmt or detect_format(usage, provider)
            shape = normalize_usage(usage, fmt, errors)
    elif "prompt_tokens" in data or "completion_tokens" in data:
        # Flat prompt_tokens/completion_tokens (and their details) are read as Chat Completions usage.
        fmt = "openai_chat"
        shape = normalize_usage({k: data[k] for k in FLAT_USAGE if k in data}, fmt, errors, prefix="")
    elif not units_given:
        errors.setdefault("usage", []).append(
            "Provide the provider's usage object, prompt_tokens and completion_tokens, or billed units."
        )
    units = {**shape.units, **parse_units(data.get("units"), errors)}
    if units_given and not usage and "prompt_tokens" not in data and "completion_tokens" not in data \
            and not any(units.get(name) for name in units if name not in UNIT_QUALIFIERS) \
            and not any(name.startswith("units") for name in errors):
        errors.setdefault("units", []).append("At least one billed unit is required.")
    service_tier = _str(data, "service_tier", errors, max_length=32) or shape.service_tier
    provider_cost = _money(data.get("provider_cost_usd"), "provider_cost_usd", errors)
    if provider_cost is None:
        provider_cost = _money(shape.provider_cost, "usage.cost", errors)

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
    else:
        dumped = json.dumps(metadata, separators=(",", ":"))
        if len(dumped.encode()) > settings.NETRA_MAX_METADATA_BYTES:
            errors.setdefault("metadata", []).append("At most 8 KB of JSON.")
            metadata = {}
        elif not json_text_is_clean(dumped):
            errors.update(json_text_errors(metadata, "metadata"))

    tags = parse_tags(data.get("tags"), errors)

    if errors:
        raise FieldErrors(errors)
    return UsageInput(
        request_id=request_id,
        model=model,
        counts=shape.counts,
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
        tags=tags,
        units=units,
        service_tier=service_tier.strip().lower(),
        provider_cost=provider_cost,
    )


MAX_UNITS = Decimal(MAX_TOKENS)
MAX_TAGS = 10
MAX_TAG_LENGTH = 64


def parse_tags(value: Any, errors: dict, name: str = "tags") -> list[str]:
    """Cost-center tags: a list of up to MAX_TAGS strings of 1 to MAX_TAG_LENGTH characters, trimmed,
    repeats dropped, order kept."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.setdefault(name, []).append(f"Must be a list of at most {MAX_TAGS} strings.")
        return []
    if len(value) > MAX_TAGS:
        errors.setdefault(name, []).append(f"At most {MAX_TAGS} tags.")
        return []
    tags: list[str] = []
    for index, tag in enumerate(value):
        problem = None
        if not isinstance(tag, str):
            problem = "Must be a string."
        else:
            problem = text_error(tag)
            tag = tag.strip()
            if problem is None and not tag:
                problem = "May not be blank."
            elif problem is None and len(tag) > MAX_TAG_LENGTH:
                problem = f"At most {MAX_TAG_LENGTH} characters."
        if problem:
            errors.setdefault(f"{name}.{index}", []).append(problem)
        elif tag not in tags:
            tags.append(tag)
    return tags


def parse_units(value: Any, errors: dict) -> dict[str, Any]:
    """Billed units that are not tokens: counts (non-negative numbers; seconds may have a fraction)
    and the qualifiers image_size and search_context_size."""
    units = _obj(value, "units", errors)
    out: dict[str, Any] = {}
    for name, amount in units.items():
        if text_error(name, 64):  # an error keyed by it could not even be written out
            errors.setdefault("units", []).append(f"Unknown unit; one of {', '.join(UNIT_NAMES)}.")
        elif name not in UNIT_NAMES:
            errors.setdefault(f"units.{name}", []).append(f"Unknown unit; one of {', '.join(UNIT_NAMES)}.")
        elif name in UNIT_QUALIFIERS:
            problem = string_error(amount, 32)
            if problem:
                errors.setdefault(f"units.{name}", []).append(problem)
            else:
                out[name] = amount
        elif name.endswith("_seconds"):
            number = _money(amount, f"units.{name}", errors)
            if number is not None and number <= MAX_UNITS:
                out[name] = int(number) if number == number.to_integral_value() else str(number)
            elif number is not None:
                errors.setdefault(f"units.{name}", []).append(f"At most {MAX_TOKENS:,}.")
        else:
            out[name] = _int(amount, f"units.{name}", errors, unit=name)
    return out


def _money(value: Any, name: str, errors: dict) -> Decimal | None:
    """A non-negative JSON number or decimal string, exactly (a float reads as its shortest repr)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.setdefault(name, []).append("Must be a non-negative number.")
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or number < 0 or number > MAX_UNITS:
        errors.setdefault(name, []).append("Must be a non-negative number.")
        return None
    return number
