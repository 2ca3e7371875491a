"""Every answer of every operation, as a client gets it, is exactly what the schema documents.

The schema is held strictly: an answer may carry no property its component does not name, must carry
every one it requires, and money, dates and ids must be in their documented formats.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")  # a plain decimal string: never a float, never "1E+1"

formats = FormatChecker(formats=())
formats.checks("decimal")(lambda value: not isinstance(value, str) or bool(DECIMAL.match(value)))
formats.checks("date-time", raises=ValueError)(lambda value: not isinstance(value, str) or
                                                bool(datetime.fromisoformat(value).tzinfo))
formats.checks("date", raises=ValueError)(lambda value: not isinstance(value, str) or
                                           bool(date.fromisoformat(value)))
formats.checks("uuid", raises=ValueError)(lambda value: not isinstance(value, str) or bool(uuid.UUID(value)))


def strict(node: Any, schema) -> Any:
    """An OpenAPI 3.0 schema as a JSON Schema that refuses undocumented properties."""
    if isinstance(node, list):
        return [strict(item, schema) for item in node]
    if not isinstance(node, dict):
        return node
    node = schema.resolve(node)
    out = {key: strict(value, schema) for key, value in node.items()
           if key not in ("nullable", "discriminator", "readOnly", "writeOnly", "example")}
    if "properties" in node:
        out["properties"] = {name: strict(value, schema) for name, value in node["properties"].items()}
        out.setdefault("additionalProperties", False)
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.mark.django_db
def test_every_answer_matches_its_documented_response(schema, exchanges):
    failures = []
    for exchange in exchanges:
        response = schema.response(exchange.path, exchange.method, exchange.status, exchange.content_type)
        validator = Draft202012Validator(strict(response, schema), format_checker=formats)
        for error in validator.iter_errors(exchange.body):
            where = "/".join(str(p) for p in error.absolute_path)
            failures.append(f"{exchange.method} {exchange.path} {exchange.status} at {where}: {error.message[:200]}")
    assert failures == []


@pytest.mark.django_db
def test_the_scenario_calls_every_documented_operation(schema, exchanges):
    called = {(e.method.lower(), e.path) for e in exchanges}
    documented = {(method, path) for path, method, _ in schema.operations()}
    assert documented - called == set()
