"""Request ids, JSON 500s under /api/, chunked request bodies, and counting huge texts."""

from __future__ import annotations

import io
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.urls import path
from rest_framework.views import APIView

from netra_site.urls import urlpatterns as site_urls


class Boom(APIView):
    def get(self, request):
        raise RuntimeError("a bug")


urlpatterns = [path("api/v1/boom", Boom.as_view()), path("boom/", lambda request: 1 / 0), *site_urls]


@pytest.mark.urls("tests.test_http_plumbing")
def test_an_unhandled_api_error_is_a_json_500_with_a_logged_request_id(api, caplog):
    api.raise_request_exception = False
    response = api.get("/api/v1/boom", HTTP_X_REQUEST_ID="trace-123")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-ID"] == "trace-123"
    assert response.json() == {"error": {
        "code": "server_error", "message": "Internal error; quote request id trace-123 when reporting it.",
        "fields": {}, "request_id": "trace-123",
    }}
    assert "unhandled error, request trace-123: GET /api/v1/boom" in caplog.text
    assert "RuntimeError: a bug" in caplog.text


def test_every_response_carries_a_request_id_and_a_bad_one_is_replaced(api):
    response = api.get("/api/v1/models", HTTP_X_REQUEST_ID="bad id\x00")
    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()


def _count_body(text: str) -> bytes:
    return json.dumps({"model": "gpt-4o", "text": text}).encode()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_under_asgi(api):
    body = _count_body("hello world")

    async def request():
        comm = ApplicationCommunicator(ASGIHandler(), {
            "type": "http", "http_version": "1.1", "method": "POST", "path": "/api/v1/tokens/count",
            "raw_path": b"/api/v1/tokens/count", "query_string": b"", "root_path": "", "scheme": "http",
            "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"transfer-encoding", b"chunked"),
                        (b"authorization", f"Bearer {api.raw_key}".encode())],
        })
        half = len(body) // 2
        await comm.send_input({"type": "http.request", "body": body[:half], "more_body": True})
        await comm.send_input({"type": "http.request", "body": body[half:], "more_body": False})
        start = await comm.receive_output(10)
        content = await comm.receive_output(10)
        return start["status"], json.loads(content["body"])

    status, answer = async_to_sync(request)()
    assert (status, answer["tokens"]) == (200, 2)


def _wsgi(environ_extra: dict, body: bytes) -> tuple[str, bytes]:
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"] = status

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/tokens/count", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True,
        **environ_extra,
    }
    chunks = WSGIHandler()(environ, start_response)
    return out["status"], b"".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_under_wsgi(api):
    status, content = _wsgi({"HTTP_AUTHORIZATION": f"Bearer {api.raw_key}"}, _count_body("hello world"))
    assert (status, json.loads(content)["tokens"]) == ("200 OK", 2)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_past_the_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    status, content = _wsgi({"HTTP_AUTHORIZATION": f"Bearer {api.raw_key}"}, _count_body("x" * 500))
    assert status.startswith("413")
    assert json.loads(content)["error"]["fields"] == {"body": ["At most 100 bytes."]}


@pytest.mark.parametrize("text", [" " * 1_000_000, "\n" * 3_000_000, "word " + " " * 4_000_000 + "end"])
def test_counting_a_huge_run_of_whitespace_answers_200(api, text):
    """tiktoken's regex gives up on a long whitespace run: the run is counted in pieces, flagged inexact."""
    response = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "text": text}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"] > 0


def test_counting_past_the_body_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    response = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "text": "a " * 6_000_000}, format="json")
    assert response.status_code == 413


def test_a_budget_check_with_a_huge_whitespace_prompt_answers_200(api):
    response = api.post("/api/v1/budgets/check", {"agent": "a", "model": "gpt-4o", "prompt": " " * 2_000_000},
                        format="json")
    assert response.status_code == 200
    assert response.json()["estimate"]["input_tokens"] == 15680
