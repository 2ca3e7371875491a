"""POST /v1/traces: OTLP/HTTP trace export (protobuf or JSON, gzip) with a Netra key in Authorization."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api.errors import error_body
from gateway.calls import GatewayError, caller_key
from gateway.otlp import (
    OtlpError,
    decompress,
    export_response,
    has_usage,
    span_payload,
    spans_from_json,
    spans_from_protobuf,
)
from ingestion.services import usage_ingest
from tokens.auth import ApiKeyAuthentication

PROTOBUF, JSON = "application/x-protobuf", "application/json"


@csrf_exempt
def traces(request: HttpRequest) -> HttpResponse:
    """Spans with GenAI usage become usage records (idempotent on trace + span id); others are skipped."""
    if request.method != "POST":
        return JsonResponse(error_body("method_not_allowed", "Use POST."), status=405)
    content_type = request.content_type or ""
    if content_type not in (PROTOBUF, JSON):
        return JsonResponse(error_body("unsupported_media_type",
                                       f"Content-Type must be {PROTOBUF} or {JSON}."), status=415)
    try:
        key = caller_key(request.headers, ApiKeyAuthentication.get_ident(request))
        body = decompress(request.body, request.headers.get("content-encoding", ""),
                          settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        spans = spans_from_protobuf(body) if content_type == PROTOBUF else spans_from_json(body)
    except GatewayError as exc:
        return JsonResponse(error_body(exc.code, exc.message), status=exc.status, headers=exc.headers)
    except RequestDataTooBig:
        return JsonResponse(error_body("body_too_large", "The request body is larger than the server accepts."),
                            status=413)
    except OtlpError as exc:
        return JsonResponse(error_body("invalid_otlp", exc.message), status=exc.status)
    payloads = [span_payload(span) for span in spans if has_usage(span)]
    results = usage_ingest(user=key.user, api_key=key, payloads=payloads) if payloads else []
    invalid = [r for r in results if r.status == "invalid"]
    message = "; ".join(f"span {payloads[r.index]['request_id'][5:]}: {', '.join(r.errors) or r.error_code}"
                        for r in invalid[:10])
    content, media_type = export_response(protobuf=content_type == PROTOBUF, rejected=len(invalid), message=message)
    return HttpResponse(content, content_type=media_type)
