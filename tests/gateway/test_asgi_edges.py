"""Requests the SDKs never send: every one a 4xx in the provider's error shape, nothing forwarded."""

from __future__ import annotations

import httpx
import pytest

from budgets.models import Reservation


@pytest.mark.parametrize("method, path, body, status, shape", [
    ("GET", "/gateway/openai/v1/chat/completions", None, 405, "openai"),
    ("POST", "/gateway/openai/v1/completions", b"{}", 404, "openai"),
    ("POST", "/gateway/openai/v1/chat/completions", b"{not json", 400, "openai"),
    ("POST", "/gateway/openai/v1/embeddings", b"[1, 2]", 400, "openai"),
    ("POST", "/gateway/openai/v1/embeddings", b'{"model": "text-embedding-3-small", "input": {"a": 1}}', 400,
     "openai"),
    ("POST", "/gateway/openai/v1/responses", b'{"model": "gpt-4o", "input": "x", "stream": "yes"}', 400, "openai"),
    ("POST", "/gateway/anthropic/v1/messages", b'{"model": "claude-sonnet-4-6", "messages": []}', 400, "anthropic"),
    ("POST", "/gateway/anthropic/v1/messages", b"\xff\xfe", 400, "anthropic"),
])
def test_bad_requests_are_answered_in_the_providers_shape(gateway, netra_key, fake, method, path, body, status,
                                                          shape):
    response = httpx.request(method, gateway.url + path, content=body,
                             headers={"authorization": f"Bearer {netra_key}", "content-type": "application/json"})
    assert response.status_code == status
    error = response.json()
    if shape == "anthropic":
        assert error["type"] == "error" and set(error["error"]) == {"type", "message"}
    else:
        assert set(error["error"]) == {"message", "type", "param", "code"}
    assert fake.requests == [] and Reservation.objects.count() == 0


def test_a_body_over_the_limit_is_a_413(gateway, netra_key, fake, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = httpx.post(gateway.url + "/gateway/anthropic/v1/messages", content=b"x" * 2000,
                          headers={"x-api-key": netra_key})
    assert (response.status_code, response.json()["error"]["type"]) == (413, "request_too_large")


def test_no_key_at_all_is_a_401_that_says_how_to_send_one(gateway, fake):
    response = httpx.post(gateway.url + "/gateway/anthropic/v1/messages", json={"model": "m"})
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "authentication_error",
        "message": "Missing Netra API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'."}


@pytest.mark.parametrize("tags, message", [
    (",".join(f"t{i}" for i in range(11)), "Invalid x-netra-tags header: at most 10 tags."),
    ("ok," + "x" * 65, "Invalid x-netra-tags header: a tag has at most 64 characters."),
])
def test_bad_tags_are_refused_naming_the_header(gateway, netra_key, fake, tags, message):
    response = httpx.post(gateway.url + "/gateway/openai/v1/chat/completions",
                          json={"model": "gpt-4o", "messages": []},
                          headers={"authorization": f"Bearer {netra_key}", "x-netra-tags": tags})
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["message"]) == ("x-netra-tags", message)
