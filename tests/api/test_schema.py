"""The OpenAPI schema: generated without a warning, every operation's answers described by serializers."""

from __future__ import annotations

import re

from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Names drf-spectacular makes up when nobody named a component (nested Input/Output serializers without a
# ref_name, private classes); a clash of two names is a warning, which fails the first test.
UNNAMED = re.compile(r"^(Input|Output)(Request)?$|^_|Serializer")


def test_schema_generates_and_validates_without_a_warning(tmp_path):
    GENERATOR_STATS.reset()  # warnings from schemas other tests served do not count here
    # Raises SchemaGenerationError on any warning or error, SchemaValidationError on an invalid document.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0")


def test_every_answer_is_an_object_with_properties_or_the_csv_report(schema):
    bare = []
    for path, method, operation in schema.operations():
        for status, response in operation["responses"].items():
            for content_type, media in response.get("content", {}).items():
                node = schema.resolve(media["schema"])
                options = [schema.resolve(o) for o in node.get("oneOf", [node])]
                if content_type == "text/csv":
                    assert (path, node) == ("/api/v1/reports/cost", {"type": "string"})
                    continue
                if not all(o.get("type") == "object" and o.get("properties") for o in options):
                    bare.append(f"{method.upper()} {path} {status}")
    assert bare == []


def test_every_request_body_is_an_object_with_properties(schema):
    for path, method, operation in schema.operations():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            node = schema.resolve(media["schema"])
            for option in [schema.resolve(o) for o in node.get("oneOf", [node])]:
                assert option.get("type") == "object" and option.get("properties"), (method, path)


def test_every_operation_documents_its_errors_with_the_one_error_shape(schema):
    for path, method, operation in schema.operations():
        responses = operation["responses"]
        assert "401" in responses, (method, path)  # every v1 operation needs a key or a session
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (method, path, status)
    error = schema.components["Error"]
    assert error["required"] == ["error"]
    assert set(schema.resolve(error["properties"]["error"])["required"]) == {"code", "message", "fields"}


def test_component_names_are_given_not_made_up(schema):
    assert [name for name in schema.components if UNNAMED.search(name)] == []


def test_bearer_api_keys_are_the_security_scheme_of_every_operation(schema, client):
    scheme = schema.document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method, operation in schema.operations():
        assert {"apiKey": []} in operation["security"], (method, path)
    # What Swagger UI at /api/docs/ loads: its Authorize button offers the scheme and sends the key.
    served = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert served["components"]["securitySchemes"]["apiKey"] == scheme

