"""OTLP/HTTP at /v1/traces: the official opentelemetry-sdk exporter (protobuf, gzip) and OTLP/JSON."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tokens.models import UsageRecord

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def _tracer(gateway, key: str, *, compression=Compression.Gzip):
    exporter = OTLPSpanExporter(endpoint=gateway.url + "/v1/traces", headers={"authorization": f"Bearer {key}"},
                                compression=compression, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("tests")


def _records():
    return list(UsageRecord.objects.filter(metadata__source="otlp").order_by("model"))


def test_the_sdk_exporter_posts_genai_spans_that_become_usage_records(gateway, netra_key, user):
    provider, tracer = _tracer(gateway, netra_key)
    with tracer.start_as_current_span("chat gpt-4o") as span:  # current conventions: cache inside the input
        span.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                             "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200,
                             "gen_ai.usage.cache_read.input_tokens": 400,
                             "gen_ai.usage.reasoning.output_tokens": 50, "gen_ai.agent.name": "planner"})
        with tracer.start_as_current_span("tool lookup"):  # no usage: accepted and skipped
            pass
    with tracer.start_as_current_span("chat claude") as span:  # Anthropic's own: cache outside the input
        span.set_attributes({"gen_ai.system": "anthropic", "gen_ai.response.model": "claude-sonnet-4-6",
                             "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 30,
                             "gen_ai.usage.cache_read.input_tokens": 400,
                             "gen_ai.usage.cache_creation.input_tokens": 100})
    with tracer.start_as_current_span("completion") as span:  # the older names
        span.set_attributes({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                             "gen_ai.usage.prompt_tokens": 300, "gen_ai.usage.completion_tokens": 40})
    provider.shutdown()
    claude, gpt4o, mini = _records()
    assert [(r.input_tokens, r.cached_input_tokens, r.cache_write_tokens, r.output_tokens, r.reasoning_tokens)
            for r in (gpt4o, claude, mini)] == [(600, 400, 0, 150, 50), (10, 400, 100, 30, 0), (300, 0, 0, 40, 0)]
    assert (gpt4o.agent, gpt4o.user, gpt4o.metadata["service"]) == ("planner", user, "support-bot")
    # claude-sonnet-4-6 per 1M: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    assert claude.cost_usd == Decimal("0.00003") + Decimal("0.00012") + Decimal("0.000375") + Decimal("0.00045")
    assert gpt4o.request_id.startswith("otlp-") and len(UsageRecord.objects.all()) == 3


def _json_export(span_id: str, attributes: list[dict]) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                             "value": {"stringValue": "svc"}}]},
                               "scopeSpans": [{"spans": [{
                                   "traceId": TRACE_ID, "spanId": span_id, "name": "chat",
                                   "startTimeUnixNano": "1764460800000000000",
                                   "endTimeUnixNano": "1764460801500000000", "attributes": attributes}]}]}]}


USAGE = [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
         {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
         {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 30}}]


def test_otlp_json_gzip_is_idempotent_on_trace_and_span_id(gateway, netra_key):
    url, headers = gateway.url + "/v1/traces", {"authorization": f"Bearer {netra_key}",
                                                "content-type": "application/json", "content-encoding": "gzip"}
    body = gzip.compress(json.dumps(_json_export("00f067aa0ba902b7", USAGE)).encode())
    for _ in range(2):
        response = httpx.post(url, content=body, headers=headers)
        assert (response.status_code, response.json()) == (200, {})
    [record] = _records()
    assert (record.request_id, record.input_tokens, record.output_tokens, record.latency_ms) == (
        f"otlp-{TRACE_ID}-00f067aa0ba902b7", 120, 30, 1500)
    assert record.occurred_at.isoformat() == "2025-11-30T00:00:01.500000+00:00"


def test_a_span_with_bad_usage_is_rejected_in_partial_success_and_the_others_kept(gateway, netra_key):
    bad = [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "-5"}}]
    export = _json_export("00f067aa0ba902b7", USAGE)
    export["resourceSpans"][0]["scopeSpans"][0]["spans"].append(
        {**_json_export("1111111111111111", bad)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]})
    response = httpx.post(gateway.url + "/v1/traces", json=export, headers={"authorization": f"Bearer {netra_key}"})
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "1111111111111111" in response.json()["partialSuccess"]["errorMessage"]
    assert len(_records()) == 1


@pytest.mark.parametrize("headers, body, status, code", [
    ({"content-type": "application/x-protobuf"}, b"\x00", 401, "missing_api_key"),
    ({"content-type": "application/x-protobuf", "authorization": "Bearer nope"}, b"", 401, "invalid_api_key"),
    ({"content-type": "text/plain", "authorization": "KEY"}, b"x", 415, "unsupported_media_type"),
    ({"content-type": "application/x-protobuf", "authorization": "KEY"}, b"\xff\xff\xff", 400, "invalid_otlp"),
    ({"content-type": "application/json", "authorization": "KEY"}, b"[1]", 400, "invalid_otlp"),
    ({"content-type": "application/json", "authorization": "KEY", "content-encoding": "gzip"}, b"no", 400,
     "invalid_otlp"),
    ({"content-type": "application/json", "authorization": "KEY", "content-encoding": "br"}, b"{}", 415,
     "invalid_otlp"),
])
def test_bad_otlp_requests_are_json_4xx(gateway, netra_key, headers, body, status, code):
    headers = {k: v.replace("KEY", f"Bearer {netra_key}") for k, v in headers.items()}
    response = httpx.post(gateway.url + "/v1/traces", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_a_protobuf_export_without_usage_is_accepted_with_an_empty_response(gateway, netra_key):
    provider, tracer = _tracer(gateway, netra_key, compression=Compression.NoCompression)
    with tracer.start_as_current_span("plain work"):
        pass
    provider.shutdown()
    assert _records() == []
    response = httpx.post(gateway.url + "/v1/traces", content=b"", headers={
        "authorization": f"Bearer {netra_key}", "content-type": "application/x-protobuf"})
    assert response.status_code == 200
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
