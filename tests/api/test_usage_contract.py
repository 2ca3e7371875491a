"""The usage record's contract is written once in effect: the fast hand-written paths cannot drift from it.

Out: ``usage_record_out`` renders records on the hot path; ``UsageRecordOutputSerializer`` documents
them. Both render the same real records to the same JSON, key for key and in the same order.

In: ``tokens.usage_input.parse_usage_record`` validates posted records by hand; ``UsageRecordInputSerializer``
documents them. Every name, type, bound and choice the serializer declares is probed against the
validator, and every key the validator reads must be a declared field.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework import serializers

from core.api.fields import StrictCharField
from core.limits import MAX_TOKENS
from ingestion.services import usage_ingest
from tokens.models import UsageRecord
from tokens.pricing import UNIT_NAMES, UNIT_QUALIFIERS
from tokens.serializers import UsageRecordInputSerializer, UsageRecordOutputSerializer, usage_record_out
from tokens.usage_input import FieldErrors, parse_usage_record

NOW = datetime.now(UTC).isoformat()


def as_json(data: Any) -> str:
    return json.dumps(data)  # key order included


@pytest.mark.django_db
def test_the_hot_path_renders_exactly_what_the_output_serializer_documents(user, catalog):
    results = usage_ingest(user=user, api_key=None, payloads=[
        {"request_id": "chat", "model": "gpt-4o", "agent": "triage", "tool": "search", "run_id": "run-1",
         "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 200},
                   "completion_tokens_details": {"reasoning_tokens": 100}},
         "optimization": {"technique": "compression", "original_tokens": 1500}, "latency_ms": 850,
         "metadata": {"trace": {"id": "t-1", "spans": [1, 2]}}, "occurred_at": NOW},
        {"request_id": "anthropic", "model": "claude-sonnet-4-5", "cache_hit": True,
         "usage": {"input_tokens": 40, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 5,
                   "output_tokens": 70}, "optimization": {"technique": "context_fit"}},
        {"request_id": "unpriced", "model": "no-such-model", "prompt_tokens": 10, "completion_tokens": 2,
         "reservation_id": str(uuid.uuid4())},
        # A service tier, billed units, a provider-reported cost and the newer token classes.
        {"request_id": "openrouter", "model": "anthropic/claude-sonnet-4-5", "service_tier": "flex",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "cost": 0.0051}},
        {"request_id": "whisper", "model": "whisper-1", "usage": {"type": "duration", "seconds": 12.5},
         "provider_cost_usd": "0.00125"},
        {"request_id": "search", "model": "claude-sonnet-4-5",
         "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation": {"ephemeral_1h_input_tokens": 100},
                   "server_tool_use": {"web_search_requests": 2}}, "units": {"search_context_size": "high"}},
    ])
    assert {r.status for r in results} == {"created"}, [r.errors for r in results]
    records = list(UsageRecord.objects.select_related("user"))
    for record in records:
        for duplicate in (None, False, True):
            if duplicate is not None:
                record.duplicate = duplicate  # what the post's answer adds
            documented = UsageRecordOutputSerializer(record).data
            assert as_json(usage_record_out(record, duplicate=duplicate)) == as_json(documented)
    assert {r.optimization_technique for r in records} == {"compression", "context_fit", ""}
    assert {r.request_id for r in records if r.provider_cost_usd is not None} == {"openrouter", "whisper"}
    assert {r.request_id: r.units for r in records if r.units} == {
        "whisper": {"input_seconds": 12.5}, "search": {"web_search_requests": 2, "search_context_size": "high"}}


# --- In -----------------------------------------------------------------------------------------------

# A valid record each probe changes one field of: its counts the largest, so any breakdown fits inside them.
FLAT = {"request_id": "r-1", "model": "gpt-4o", "prompt_tokens": MAX_TOKENS, "completion_tokens": MAX_TOKENS}
# A usage field is probed inside a valid usage object of a format, named by usage_format; it must hold its
# documented type, bounds and choices in at least one (Anthropic's thinking_tokens mean nothing to OpenAI).
USAGE_BASES = {
    "openai_chat": {"prompt_tokens": MAX_TOKENS, "completion_tokens": MAX_TOKENS},
    "openai_responses": {"input_tokens": MAX_TOKENS, "output_tokens": MAX_TOKENS},
    "transcription": {"type": "duration", "seconds": 1},
    "anthropic": {"input_tokens": 0, "output_tokens": MAX_TOKENS},
    "gemini": {"prompt_token_count": MAX_TOKENS, "candidates_token_count": MAX_TOKENS},
    "cohere": {"input_tokens": 0},
}
USAGE_FORMAT_OF = {"transcription": "openai_responses"}
# A breakdown of a breakdown is checked against its siblings (cached audio within the cached and the audio
# tokens): they get the probed count.
SIBLING_TOTALS = {
    "cached_tokens_details.audio_tokens": ("cached_tokens", "audio_tokens"),
    "cached_tokens_details.image_tokens": ("cached_tokens", "image_tokens"),
    "cache_write_tokens_details.ttl_12h_tokens": ("cache_write_tokens",),
}
INDEX = re.compile(r"\.\d+(?=\.|$)")  # a list item's position in a dotted path


def documented_fields(field: serializers.Field, prefix: str = "") -> list[tuple[str, serializers.Field]]:
    """Every field a serializer declares, nested ones by dotted path (a list's items as ``.0``), and each
    documented form of a field that takes more than one (``forms``)."""
    found = []
    for name, child in field.fields.items():
        path = f"{prefix}{name}"
        for form in getattr(child, "forms", {"": child}).values():
            found.append((path, form))
            if isinstance(form, serializers.ListField) and isinstance(form.child, serializers.Serializer):
                found += documented_fields(form.child, f"{path}.0.")
            elif isinstance(form, serializers.Serializer):
                found += documented_fields(form, f"{path}.")
    return found


DOCUMENTED = documented_fields(UsageRecordInputSerializer())
DOCUMENTED_PATHS = {path for path, _ in DOCUMENTED}
FREE_FORM = {path for path, field in DOCUMENTED if type(field) in (serializers.DictField, serializers.JSONField)}


def _put(container: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set a dotted path inside ``container``, building objects and one-item lists on the way."""
    key, rest = parts[0], parts[1:]
    if not rest:
        container[key] = value
    elif rest[0].isdigit():
        item: dict[str, Any] = {}
        container[key] = [item]
        _put(item, rest[1:], value)
    else:
        container[key] = inner = {}
        _put(inner, rest, value)
        siblings = SIBLING_TOTALS.get(".".join(rest))
        for sibling in siblings or ():
            valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS
            inner[sibling] = value if valid else 0


def records_with(path: str, value: Any) -> list[dict[str, Any]]:
    """The records to probe ``path`` with: FLAT with it set; a usage path in a usage object of each format."""
    parts = path.split(".")
    if parts[0] != "usage" or len(parts) == 1:
        record = dict(FLAT)
        _put(record, parts, value)
        return [record]
    out = []
    for name, base in USAGE_BASES.items():
        usage = json.loads(json.dumps(base))
        _put(usage, parts[1:], value)
        out.append({"request_id": "r-1", "model": "gpt-4o", "usage": usage,
                    "usage_format": USAGE_FORMAT_OF.get(name, name)})
    return out


def probes(field: serializers.Field) -> tuple[list[Any], list[Any]]:
    """Values the documented field accepts, and values it refuses (as JSON would bring them)."""
    if isinstance(field, serializers.JSONField):
        return [], []  # any JSON: nothing to hold the validator to
    if isinstance(field, serializers.Serializer):
        return [], ["not an object", [1]]
    if isinstance(field, serializers.ListField):
        return [[]], ["not a list", {"a": 1}]
    if isinstance(field, serializers.DictField):
        return [{}, {"a": [1, {"b": None}]}], ["not an object", [1]]
    if isinstance(field, serializers.ChoiceField):
        return list(field.choices), ["not-a-choice"]
    if isinstance(field, serializers.BooleanField):
        return [True, False], ["yes", 1]
    if isinstance(field, serializers.UUIDField):
        return [str(uuid.uuid4())], ["not-a-uuid"]
    if isinstance(field, serializers.DateTimeField):
        return [NOW, "2024-05-01T10:00:00"], ["yesterday", 1714557600]
    if isinstance(field, serializers.IntegerField):
        good = [field.min_value, field.max_value]
        bad = [field.min_value - 1, field.max_value + 1, str(field.min_value), True, 1.5]
        return good, bad
    if isinstance(field, serializers.DecimalField):  # a number or a decimal string
        good = [field.min_value, field.max_value, "12.5", 0.5]
        return good, [field.min_value - 1, field.max_value + 1, "twelve", True]
    if isinstance(field, serializers.FloatField):  # a JSON number only
        return [field.min_value, 0.5, field.max_value], [field.min_value - 1, field.max_value + 1, "1", True]
    if isinstance(field, serializers.CharField):
        assert field.max_length, f"{field.field_name}: document the bound the validator enforces"
        return ["x", "x" * field.max_length], [123, "x" * (field.max_length + 1)]
    raise AssertionError(f"No probes for {type(field).__name__}: add them.")


def errors_of(record: dict[str, Any]) -> dict[str, list[str]]:
    try:
        parse_usage_record(record)
    except FieldErrors as exc:
        return exc.errors
    return {}


def holds(path: str, accepted: list[Any], refused: list[Any], records: int) -> bool:
    """Whether the validator, on the ``records``-th way of posting ``path``, takes ``accepted`` and refuses
    ``refused`` naming the field."""
    return (all(errors_of(records_with(path, value)[records]) == {} for value in accepted)
            and all(path in errors_of(records_with(path, value)[records]) for value in refused))


@pytest.mark.parametrize(("path", "field"), DOCUMENTED, ids=[f"{p}:{type(f).__name__}" for p, f in DOCUMENTED])
def test_the_validator_holds_every_documented_type_bound_and_choice(path, field):
    accepted, refused = probes(field)
    ways = len(records_with(path, None))
    assert any(holds(path, accepted, refused, way) for way in range(ways)), (path, accepted, refused)


def test_the_documented_required_fields_are_the_validators():
    required = {path for path, field in DOCUMENTED if field.required and "." not in path}
    assert required == {"request_id", "model"}
    for name in required:
        record = {k: v for k, v in FLAT.items() if k != name}
        assert errors_of(record) == {name: ["This field is required."]}
    assert not any(isinstance(f, StrictCharField) for _, f in DOCUMENTED)  # JSON strings: _str's rule


class Reads(dict):
    """A record that notes every key the validator looks at, nested objects by dotted path (list items too)."""

    def __init__(self, data: dict[str, Any], seen: set[str], prefix: str = "") -> None:
        super().__init__({k: self._wrap(v, seen, f"{prefix}{k}") for k, v in data.items()})
        self.seen, self.prefix = seen, prefix

    @classmethod
    def _wrap(cls, value: Any, seen: set[str], path: str) -> Any:
        if isinstance(value, dict):
            return cls(value, seen, f"{path}.")
        if isinstance(value, list):
            return [cls._wrap(item, seen, f"{path}.{i}") for i, item in enumerate(value)]
        return value

    def _note(self, key: Any) -> None:
        self.seen.add(f"{self.prefix}{key}")

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)

    def items(self):  # a validator that reads every key it is given (units) reads them all
        for key in self:
            self._note(key)
        return super().items()


def documented_name(path: str) -> str:
    """A read key as the schema names it: list items as ``.0``, Gemini's REST camelCase as snake_case."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", INDEX.sub(".0", path)).lower()


# Every breakdown OpenAI reports, within totals of 100 prompt and 50 completion tokens.
IN_DETAILS = {"cached_tokens": 2, "cached_tokens_details": {"audio_tokens": 1, "image_tokens": 1},
              "cache_write_tokens": 2, "cache_write_tokens_details": {"ttl_12h_tokens": 1},
              "audio_tokens": 1, "image_tokens": 1}
OUT_DETAILS = {"reasoning_tokens": 1, "audio_tokens": 1, "image_tokens": 1}
SHAPES = [
    {**FLAT, "agent": "a", "tool": "t", "run_id": "r", "user": "alice", "occurred_at": NOW, "cache_hit": False,
     "reservation_id": str(uuid.uuid4()), "latency_ms": 5, "metadata": {"k": "v"}, "usage_format": "openai_chat",
     "optimization": {"technique": "compression", "original_tokens": 9},
     "prompt_tokens_details": IN_DETAILS, "completion_tokens_details": OUT_DETAILS,
     "service_tier": "flex", "provider_cost_usd": "0.01",
     "units": {name: "1x1" if name in UNIT_QUALIFIERS else 1 for name in UNIT_NAMES}},
    {"request_id": "chat", "model": "gpt-4o",
     "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150, "cost": 0.001,
               "prompt_tokens_details": IN_DETAILS, "completion_tokens_details": OUT_DETAILS}},
    {"request_id": "deepseek", "model": "deepseek-chat",
     "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 4}},
    {"request_id": "responses", "model": "gpt-4o",
     "usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150,
               "input_tokens_details": IN_DETAILS, "output_tokens_details": OUT_DETAILS}},
    {"request_id": "realtime", "model": "gpt-realtime",
     "usage": {"input_tokens": 100, "output_tokens": 50, "input_token_details": IN_DETAILS,
               "output_token_details": OUT_DETAILS}},
    {"request_id": "transcription", "model": "whisper-1", "usage": {"type": "duration", "seconds": 12.5}},
    {"request_id": "anthropic", "model": "claude-sonnet-4-5",
     "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 3,
               "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 2},
               "output_tokens_details": {"thinking_tokens": 2}, "server_tool_use": {"web_search_requests": 1},
               "service_tier": "batch"}},
    {"request_id": "gemini", "model": "gemini-2.5-flash",
     "usage": {"prompt_token_count": 100, "candidates_token_count": 20, "cached_content_token_count": 10,
               "thoughts_token_count": 5, "tool_use_prompt_token_count": 1, "total_token_count": 126,
               "prompt_tokens_details": [{"modality": "AUDIO", "token_count": 30}],
               "cache_tokens_details": [{"modality": "AUDIO", "token_count": 10}],
               "candidates_tokens_details": [{"modality": "TEXT", "token_count": 20}]}},
    {"request_id": "gemini-total", "model": "gemini-2.5-flash", "usage_format": "gemini",
     "usage": {"total_token_count": 0}},
    {"request_id": "gemini-rest", "model": "gemini-2.5-flash", "usage": {"promptTokenCount": 10}},
    {"request_id": "rerank", "model": "rerank-v3.5", "usage": {"billed_units": {"search_units": 1}}},
    {"request_id": "billed-units", "model": "rerank-v3.5",
     "usage": {"search_units": 1, "input_tokens": 0, "output_tokens": 0}},
]


def test_the_validator_reads_exactly_the_documented_fields():
    seen: set[str] = set()
    for shape in SHAPES:
        parse_usage_record(Reads(shape, seen))
    read = {documented_name(path) for path in seen}
    # Keys inside free-form objects (metadata) are the client's, not the schema's.
    read = {path for path in read if not any(path.startswith(f"{free}.") for free in FREE_FORM)}
    assert read - DOCUMENTED_PATHS == set(), "the validator reads fields the schema does not document"
    assert DOCUMENTED_PATHS - read == set(), "the schema documents fields the validator never reads"
