"""The usage record's contract is written once in effect: the fast hand-written paths cannot drift from it.

Out: ``usage_record_out`` renders records on the hot path; ``UsageRecordOutputSerializer`` documents
them. Both render the same real records to the same JSON, key for key and in the same order.

In: ``tokens.usage_input.parse_usage_record`` validates posted records by hand; ``UsageRecordInputSerializer``
documents them. Every name, type, bound and choice the serializer declares is probed against the
validator, and every key the validator reads must be a declared field.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework import serializers

from core.api.fields import StrictCharField
from core.limits import MAX_TOKENS
from ingestion.services import usage_ingest
from tokens.models import UsageRecord
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


# --- In -----------------------------------------------------------------------------------------------

# A valid record each probe changes one field of; a usage field is probed inside a usage object.
FLAT = {"request_id": "r-1", "model": "gpt-4o", "prompt_tokens": 1, "completion_tokens": 1}
# A breakdown is checked against its total (cached tokens cannot exceed the prompt): give it the largest.
DETAIL_TOTALS = {
    "prompt_tokens_details": "prompt_tokens",
    "completion_tokens_details": "completion_tokens",
    "input_tokens_details": "input_tokens",
    "output_tokens_details": "output_tokens",
}


def documented_fields(serializer: serializers.Serializer, prefix: str = "") -> dict[str, serializers.Field]:
    """Every field the serializer declares, nested ones by dotted path."""
    found = {}
    for name, field in serializer.fields.items():
        path = f"{prefix}{name}"
        found[path] = field
        if isinstance(field, serializers.Serializer):
            found.update(documented_fields(field, f"{path}."))
    return found


DOCUMENTED = documented_fields(UsageRecordInputSerializer())


def record_with(path: str, value: Any) -> dict[str, Any]:
    """FLAT with ``path`` set to ``value``; a usage path goes into a usage object (the flat counts leave)."""
    parts = path.split(".")
    if parts[0] == "usage" and len(parts) > 1:
        record = {k: v for k, v in FLAT.items() if k not in ("prompt_tokens", "completion_tokens")}
        record["usage"] = container = {}
        parts = parts[1:]
    else:
        record = container = dict(FLAT)
    if parts[0] in DETAIL_TOTALS:
        container[DETAIL_TOTALS[parts[0]]] = MAX_TOKENS
    container[parts[0]] = value if len(parts) == 1 else {parts[1]: value}
    return record


def probes(field: serializers.Field) -> tuple[list[Any], list[Any]]:
    """Values the documented field accepts, and values it refuses (as JSON would bring them)."""
    if isinstance(field, serializers.JSONField):
        return [], []  # any JSON: nothing to hold the validator to
    if isinstance(field, serializers.Serializer):
        return [], ["not an object", [1]]
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


@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_the_validator_holds_every_documented_type_bound_and_choice(path):
    accepted, refused = probes(DOCUMENTED[path])
    for value in accepted:
        assert errors_of(record_with(path, value)) == {}, (path, value)
    for value in refused:
        assert path in errors_of(record_with(path, value)), (path, value)


def test_the_documented_required_fields_are_the_validators():
    required = {path for path, field in DOCUMENTED.items() if field.required and "." not in path}
    assert required == {"request_id", "model"}
    for name in required:
        record = {k: v for k, v in FLAT.items() if k != name}
        assert errors_of(record) == {name: ["This field is required."]}
    assert not any(isinstance(f, StrictCharField) for f in DOCUMENTED.values())  # JSON strings: _str's rule


class Reads(dict):
    """A record that notes every key the validator looks at, nested objects by dotted path."""

    def __init__(self, data: dict[str, Any], seen: set[str], prefix: str = "") -> None:
        super().__init__({k: Reads(v, seen, f"{prefix}{k}.") if isinstance(v, dict) else v for k, v in data.items()})
        self.seen, self.prefix = seen, prefix

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


SHAPES = [
    {**FLAT, "agent": "a", "tool": "t", "run_id": "r", "user": "alice", "occurred_at": NOW, "cache_hit": False,
     "reservation_id": str(uuid.uuid4()), "latency_ms": 5, "metadata": {"k": "v"}, "usage_format": "openai_chat",
     "optimization": {"technique": "compression", "original_tokens": 9},
     "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
     "completion_tokens_details": {"reasoning_tokens": 0}},
    {"request_id": "r-2", "model": "gpt-4o",
     "usage": {"prompt_tokens": 10, "completion_tokens": 5,
               "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
               "completion_tokens_details": {"reasoning_tokens": 1}}},
    {"request_id": "r-3", "model": "gpt-4o",
     "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
               "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
               "output_tokens_details": {"reasoning_tokens": 1}}},
    {"request_id": "r-4", "model": "claude-sonnet-4-5",
     "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 1}},
]


def test_the_validator_reads_exactly_the_documented_fields():
    seen: set[str] = set()
    for shape in SHAPES:
        parse_usage_record(Reads(shape, seen))
    assert seen - set(DOCUMENTED) == set(), "the validator reads fields the schema does not document"
    assert set(DOCUMENTED) - seen == set(), "the schema documents fields the validator never reads"
