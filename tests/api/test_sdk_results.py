"""The SDK's result types read only what the server documents, in types they can take.

For each dataclass of netra_client.results with a ``from_json``, an answer is built from the response
schema it reads (every property, typed as documented), and ``from_json`` must read no key the schema
lacks and build every field in its annotated type. It must also cope with the thinnest valid answer:
optional properties left out and nullable ones null.
"""

from __future__ import annotations

import inspect
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Any

import pytest

from netra_client import results

# Each result type and the response it reads: (method, path, status) or a component inside one.
READS = {
    results.UsageResult: ("post", "/api/v1/usage", 201),
    results.BatchResult: ("post", "/api/v1/usage", 207),
    results.TokenBreakdown: "TokenCounts",
    results.BudgetCheck: ("post", "/api/v1/budgets/check", 200),
    results.Estimate: "BudgetCheckEstimate",
    results.Reservation: "BudgetCheckReservation",
    results.TokenCount: ("post", "/api/v1/tokens/count", 200),
    results.RunInfo: ("get", "/api/v1/runs/{run_id}", 200),
    results.PromptOptimization: ("post", "/api/v1/optimize/prompt", 200),
    results.CacheLookup: ("post", "/api/v1/cache/lookup", 200),
}


class Answer(Mapping):
    """A JSON object built from a schema component that notes which keys the SDK reads."""

    def __init__(self, data: dict[str, Any], where: str, reads: list[tuple[str, str]]) -> None:
        self.data, self.where, self.reads = data, where, reads

    def __getitem__(self, key: str) -> Any:
        self.reads.append((self.where, key))
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class Builder:
    """Answers as the schema documents them: ``full`` has every property, ``thin`` only what is required."""

    def __init__(self, schema, *, thin: bool) -> None:
        self.schema, self.thin = schema, thin
        self.reads: list[tuple[str, str]] = []
        self.properties: dict[str, set[str]] = {}

    def value(self, node: dict[str, Any], where: str) -> Any:
        if self.thin and node.get("nullable"):
            return None
        for combined in ("allOf", "oneOf"):  # a described or nullable $ref comes wrapped in allOf
            if combined in node:
                return self.value(node[combined][0], where)
        name = node.get("$ref", "").rsplit("/", 1)[-1] or where
        node = self.schema.resolve(node)
        if "enum" in node:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "object":
            return self.object(node, name)
        if kind == "array":
            return [self.value(node.get("items", {}), f"{where}[]")]
        if kind == "string":
            return {"decimal": "12.5", "date-time": "2025-01-02T03:04:05+00:00", "date": "2025-01-02",
                    "uuid": str(uuid.UUID(int=1))}.get(node.get("format"), "text")
        return {"integer": 7, "number": 1.5, "boolean": True}.get(kind, {"any": "json"})

    def object(self, node: dict[str, Any], name: str) -> Any:
        if "properties" not in node:
            extra = node.get("additionalProperties")
            return {"some-key": self.value(extra, f"{name}{{}}")} if isinstance(extra, dict) and extra else {}
        self.properties[name] = set(node["properties"])
        required = set(node.get("required", []))
        data = {
            prop: self.value(sub, f"{name}.{prop}")
            for prop, sub in node["properties"].items()
            if prop in required or not self.thin
        }
        return Answer(data, name, self.reads)


def component(schema, reads: tuple[str, str, int] | str) -> dict[str, Any]:
    if isinstance(reads, str):
        return {"$ref": f"#/components/schemas/{reads}"}
    return schema.response(reads[1], reads[0], reads[2])


def conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is dict or origin is dict:
        return isinstance(value, Mapping)
    if origin is not None:
        return isinstance(value, origin)
    if hint in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool) and (hint is float or
                                                                                     isinstance(value, int))
    return isinstance(value, hint)


def test_every_result_type_with_from_json_is_held_to_the_schema():
    readers = {cls for _, cls in inspect.getmembers(results, inspect.isclass)
               if is_dataclass(cls) and "from_json" in vars(cls)}
    assert readers == set(READS)


@pytest.mark.parametrize("thin", [False, True], ids=["every-property", "required-only-and-nulls"])
@pytest.mark.parametrize("result_type", list(READS), ids=lambda cls: cls.__name__)
def test_the_sdk_reads_only_documented_fields_in_compatible_types(schema, result_type, thin):
    build = Builder(schema, thin=thin)
    answer = build.value(component(schema, READS[result_type]), result_type.__name__)

    result = result_type.from_json(answer)

    undocumented = sorted({f"{where}.{key}" for where, key in build.reads if key not in build.properties[where]})
    assert undocumented == [], f"{result_type.__name__}.from_json reads fields the schema does not have"
    hints = typing.get_type_hints(result_type, vars(results))
    for field in fields(result_type):
        value = getattr(result, field.name)
        assert conforms(value, hints[field.name]), (field.name, value, hints[field.name])
        if not thin and Decimal in (hints[field.name], *typing.get_args(hints[field.name])):
            assert value == Decimal("12.5"), f"{field.name}: money must be documented as a decimal string"
    assert build.reads or thin, "from_json read nothing"
