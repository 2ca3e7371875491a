"""OTLP/HTTP trace bodies (protobuf or JSON, gzip or not) -> spans -> usage records.

Spans carrying the GenAI semantic-convention usage attributes become usage records, one per span,
idempotent on trace id + span id (the record's request_id). Spans without usage are skipped.

Cached tokens are counted once whichever convention the instrumentation followed: the semantic
conventions (and OpenAI) count cache reads and writes inside ``gen_ai.usage.input_tokens``;
Anthropic's own usage counts them outside. An input smaller than its cache reads plus writes can only
be Anthropic's convention; otherwise the input is read as the conventions say (inclusive).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
REASONING = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")
USAGE_KEYS = INPUT + OUTPUT + CACHE_READ + CACHE_WRITE + REASONING


class OtlpError(Exception):
    """A body that is not an OTLP trace export (answered 400, or 415 for an unknown content type)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Span:
    trace_id: str  # hex
    span_id: str  # hex
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any]


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before ``Content-Encoding`` (gzip or deflate), at most ``limit`` bytes once inflated."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise OtlpError(f"Unsupported Content-Encoding {encoding!r}: gzip, deflate or none.", status=415)
    inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise OtlpError(f"The body is not valid {encoding}.")
    if len(out) > limit:
        raise OtlpError(f"The inflated body is larger than {limit:,} bytes.", status=413)
    return out


def spans_from_protobuf(body: bytes) -> list[Span]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError, RuntimeError):
        raise OtlpError("The body is not an OTLP ExportTraceServiceRequest (protobuf).")
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _proto_value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(Span(trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), name=span.name,
                                  start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                                  attributes={a.key: _proto_value(a.value) for a in span.attributes},
                                  resource=resource))
    return spans


def _proto_value(value) -> Any:
    kind = value.WhichOneof("value")
    if kind in ("string_value", "int_value", "double_value", "bool_value"):
        return getattr(value, kind)
    return None  # arrays, maps and bytes carry no usage


def spans_from_json(body: bytes) -> list[Span]:
    """OTLP/JSON: hex trace and span ids, camelCase fields, 64-bit integers as strings or numbers."""
    try:
        data = json.loads(body)
        spans = []
        for resource_spans in data.get("resourceSpans") or []:
            resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans") or []:
                for span in scope_spans.get("spans") or []:
                    spans.append(Span(
                        trace_id=_hex_id(span.get("traceId"), 32), span_id=_hex_id(span.get("spanId"), 16),
                        name=str(span.get("name") or ""), start_ns=int(span.get("startTimeUnixNano") or 0),
                        end_ns=int(span.get("endTimeUnixNano") or 0),
                        attributes=_json_attributes(span.get("attributes")), resource=resource))
        return spans
    except OtlpError:
        raise
    except (ValueError, TypeError, AttributeError):
        raise OtlpError("The body is not an OTLP/JSON trace export (resourceSpans / scopeSpans / spans).")


def _hex_id(value: Any, length: int) -> str:
    if not isinstance(value, str) or len(value) != length:
        raise OtlpError("Span ids must be hex strings: traceId of 32 characters, spanId of 16.")
    int(value, 16)
    return value.lower()


def _json_attributes(items: Any) -> dict[str, Any]:
    out = {}
    for item in items or []:
        value = item.get("value") or {}
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                out[str(item.get("key"))] = int(value[kind]) if kind == "intValue" else value[kind]
                break
    return out


def export_response(*, protobuf: bool, rejected: int, message: str) -> tuple[bytes, str]:
    """ExportTraceServiceResponse: empty when every span was taken, else its partial_success."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if protobuf:
        return response.SerializeToString(), "application/x-protobuf"
    body = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}} if rejected else {}
    return json.dumps(body).encode(), "application/json"


def _first(attributes: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        if attributes.get(name) is not None:
            return attributes[name]
    return None


def _count(value: Any) -> int | None:
    """A token count as instrumentations send it: an int, an integral double, or digits."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError
    return value


def has_usage(span: Span) -> bool:
    return any(span.attributes.get(name) is not None for name in USAGE_KEYS)


def span_payload(span: Span) -> dict:
    """One usage record from one span; a bad token count or a span without a model gives an invalid
    record (the pipeline names the field)."""
    a = span.attributes
    try:
        counts = [_count(_first(a, names)) for names in (INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING)]
    except ValueError:
        return {"request_id": f"otlp-{span.trace_id}-{span.span_id}", "usage": "not token counts"}
    given_input, output, read, written, reasoning = (c or 0 for c in counts)
    # Anthropic's own convention counts the cache outside the input; the conventions' count it inside.
    inclusive_input = given_input if given_input >= read + written else given_input + read + written
    if reasoning > output:  # reasoning reported beside the output, not inside it
        output += reasoning
    provider = str(a.get("gen_ai.provider.name") or a.get("gen_ai.system") or "")
    payload: dict[str, Any] = {
        "request_id": f"otlp-{span.trace_id}-{span.span_id}",
        "model": a.get("gen_ai.response.model") or a.get("gen_ai.request.model"),
        "usage_format": "openai_responses",
        "usage": {"input_tokens": inclusive_input, "output_tokens": output,
                  "input_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
                  "output_tokens_details": {"reasoning_tokens": reasoning}},
        "agent": a.get("gen_ai.agent.name") or a.get("netra.agent") or "default",
        "run_id": a.get("netra.run_id") or a.get("gen_ai.conversation.id") or "",
        "metadata": {"source": "otlp", "trace_id": span.trace_id, "span_id": span.span_id, "span": span.name[:200],
                     "provider": provider[:64], "service": str(span.resource.get("service.name") or "")[:200]},
    }
    if span.end_ns:
        payload["occurred_at"] = datetime.fromtimestamp(span.end_ns / 1e9, tz=UTC).isoformat()
        if span.start_ns and span.end_ns >= span.start_ns:
            payload["latency_ms"] = (span.end_ns - span.start_ns) // 1_000_000
    return payload
