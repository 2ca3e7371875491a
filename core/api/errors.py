"""One JSON error shape for the whole API, mapped in one place.

Every error is ``{"error": {"code", "message", "fields"}}`` with a 4xx status.
Services raise domain errors (core.errors); DRF raises its own exceptions;
this handler turns both into that shape.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors

DOMAIN_STATUS = {
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.PermissionDenied: status.HTTP_403_FORBIDDEN,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.Unprocessable: status.HTTP_422_UNPROCESSABLE_ENTITY,
    errors.Busy: status.HTTP_503_SERVICE_UNAVAILABLE,
}

DRF_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", status.HTTP_401_UNAUTHORIZED),
    exceptions.AuthenticationFailed: ("authentication_failed", status.HTTP_401_UNAUTHORIZED),
    exceptions.PermissionDenied: ("permission_denied", status.HTTP_403_FORBIDDEN),
    exceptions.NotFound: ("not_found", status.HTTP_404_NOT_FOUND),
    exceptions.MethodNotAllowed: ("method_not_allowed", status.HTTP_405_METHOD_NOT_ALLOWED),
    exceptions.ParseError: ("malformed_json", status.HTTP_400_BAD_REQUEST),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    exceptions.Throttled: ("throttled", status.HTTP_429_TOO_MANY_REQUESTS),
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


class ErrorDetailSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ErrorDetail"

    code = serializers.CharField(help_text="Stable and machine-readable: invalid, malformed_json, not_found, ...")
    message = serializers.CharField(help_text="For people; may change between versions.")
    fields = serializers.DictField(
        help_text="What was wrong with which field: usually a list of messages per field name, "
        "dotted for nested fields (usage.prompt_tokens); empty when no one field is to blame."
    )


# error_body's shape, documented.
class ErrorSerializer(serializers.Serializer):
    """Every error the API answers, with a 4xx status."""

    class Meta:
        ref_name = "Error"

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `invalid` with field errors, `malformed_json`, `unknown_user` and the like.",
    401: "`not_authenticated` or `authentication_failed`: no valid API key (`Authorization: Bearer ...`) "
         "and no session.",
    403: "`permission_denied`: a user key naming another user, or an operation for staff and service keys.",
    404: "`not_found`: no such object for this caller.",
    409: "The object's state does not allow this (a reservation already committed, released or expired).",
    422: "Well formed, but it cannot be satisfied.",
    413: "`body_too_large`: the request body is larger than the server accepts.",
    429: "`throttled`: too many requests (per user, or failed API keys per address); `Retry-After` says when "
         "to try again.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error answers of an operation, for ``extend_schema(responses=...)``.

    401, 413 and 429 are always among them: every v1 operation needs a key or a session, reads a bounded
    body, and is throttled.
    """
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 413, 429, *statuses})
    }


def domain_status(exc: errors.DomainError) -> int:
    for klass in type(exc).__mro__:
        if klass in DOMAIN_STATUS:
            return DOMAIN_STATUS[klass]
    return status.HTTP_400_BAD_REQUEST


def _dotted(detail: Any, prefix: str = "", out: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """DRF's nested errors as one list of messages per dotted path: ``{"messages": {0: {"role": [...]}}}``
    becomes ``{"messages.0.role": [...]}``, as the usage validator names nested fields."""
    out = {} if out is None else out
    if isinstance(detail, dict):
        for key, value in detail.items():
            _dotted(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):  # a list of items: one entry per item, {} when it was fine
            _dotted(item, f"{prefix}.{index}" if prefix else str(index), out)
    elif isinstance(detail, list):
        out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, errors.DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=domain_status(exc))
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("body_too_large", "The request body is larger than the server accepts.",
                       {"body": [f"At most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."]}),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _dotted(exc.detail)
        names = ", ".join(fields)
        response.data = error_body("invalid", f"Invalid input: {names}." if names else "Invalid input.", fields)
        return response
    for klass, (code, http_status) in DRF_CODES.items():
        if isinstance(exc, klass):
            response.status_code = http_status
            response.data = error_body(code, str(getattr(exc, "detail", exc)))
            return response
    response.data = error_body(getattr(exc, "default_code", "error"), str(getattr(exc, "detail", exc)))
    return response


def _api_not_found(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if (
        response.status_code == status.HTTP_404_NOT_FOUND
        and request.path_info.startswith("/api/")
        and not response.get("Content-Type", "").startswith("application/json")
    ):
        return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
    return response


@sync_and_async_middleware
def api_not_found_middleware(get_response):
    """A 404 under /api/ that no API view answered (no URL matched) is the JSON error shape, with
    DEBUG on or off: Django's handler404 is skipped under DEBUG. Pages elsewhere keep the HTML 404."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return _api_not_found(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            return _api_not_found(request, get_response(request))

    return middleware
