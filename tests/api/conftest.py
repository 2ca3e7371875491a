"""The OpenAPI schema, generated in-process, and a helper to read it."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api import scenario
from tests.factories import UserFactory


class Schema:
    """The generated OpenAPI document, with $ref resolution."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = document["components"]["schemas"]

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def operations(self):
        for path, methods in self.document["paths"].items():
            for method, operation in methods.items():
                yield path, method, operation

    def response(self, path: str, method: str, status: int | str, content_type: str = "application/json") -> dict:
        responses = self.document["paths"][path][method.lower()]["responses"]
        return responses[str(status)]["content"][content_type]["schema"]


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema(SchemaGenerator().get_schema(request=None, public=True))


@pytest.fixture
def exchanges(catalog) -> list[scenario.Exchange]:
    """Every v1 operation called the way a client calls it, with the answers."""
    return scenario.run(
        alice=UserFactory(username="alice"),
        bob=UserFactory(username="bob"),
        staff=UserFactory(username="root", is_staff=True, is_superuser=True),
        service=UserFactory(username="svc-orchestrator"),
    )
