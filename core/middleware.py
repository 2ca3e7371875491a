"""HTTP plumbing every request goes through: a request id, JSON 500s under /api/, query text, chunked bodies.

- Every response carries ``X-Request-ID`` (the caller's, when it sent a sane
  one, else a new one); an unhandled error under ``/api/`` answers the JSON
  error shape with that id, and the traceback is logged with it.
- A query parameter (name or value) with a NUL, a lone surrogate or more than
  ``MAX_QUERY_VALUE`` characters is refused with a 400 naming it (the JSON error
  shape under ``/api/``), so no view, admin page or filter passes it to a database.
- A ``Transfer-Encoding: chunked`` body has no Content-Length, and DRF reads
  such a body as empty (Django's WSGI request does too). The body is read
  here, within DATA_UPLOAD_MAX_MEMORY_SIZE, and its length set.
"""

from __future__ import annotations

import io
import logging
import re
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from core.api.errors import error_body
from core.api.params import query_string_errors

logger = logging.getLogger("netra.requests")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware(MiddlewareMixin):
    """Tag each request with an id, echo it, and turn an unhandled API error into a JSON 500 naming it."""

    def process_request(self, request: HttpRequest) -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        request_id = getattr(request, "request_id", None)
        if request_id:
            response[REQUEST_ID_HEADER] = request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        request_id = getattr(request, "request_id", "-")
        logger.exception("unhandled error, request %s: %s %s", request_id, request.method, request.path)
        if not request.path_info.startswith("/api/"):
            return None  # pages keep Django's own 500 page
        body = error_body("server_error", f"Internal error; quote request id {request_id} when reporting it.")
        body["error"]["request_id"] = request_id
        return JsonResponse(body, status=500)


class QueryTextMiddleware(MiddlewareMixin):
    """Refuse a query string no database should see (core.api.params.query_string_errors)."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not request.META.get("QUERY_STRING"):
            return None
        errors = query_string_errors(request.GET)
        if not errors:
            return None
        message = f"Invalid query parameter: {', '.join(errors)}."
        if request.path_info.startswith("/api/"):
            return JsonResponse(error_body("invalid", message, errors), status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class ChunkedBodyMiddleware(MiddlewareMixin):
    """Read a chunked request body (no Content-Length) so views see it, or refuse it as too large."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
            return None
        if int(request.META.get("CONTENT_LENGTH") or 0):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            environ = getattr(request, "environ", {})
            if environ.get("wsgi.input_terminated"):
                # WSGI: Django limits the input to Content-Length (none): read the server's terminated stream.
                data = environ["wsgi.input"].read(limit + 1 if limit is not None else -1)
                if limit is not None and len(data) > limit:
                    raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
                request._stream = io.BytesIO(data)
            else:
                data = request.body  # ASGI spools the whole body; Django checks its size
        except RequestDataTooBig:
            return JsonResponse(
                error_body("body_too_large", "The request body is larger than the server accepts.",
                           {"body": [f"At most {limit:,} bytes."]}),
                status=413,
            )
        request.META["CONTENT_LENGTH"] = str(len(data))
        return None
