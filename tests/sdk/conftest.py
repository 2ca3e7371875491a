"""Fixtures for the agent SDK: the package from this repository's source tree, the live
Netra server, a fake model provider and the official SDK clients pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test the SDK source in this repository, not whichever copy is installed.
_SRC = str(Path(__file__).resolve().parents[2] / "netra_client" / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from netra_client import NetraClient  # noqa: E402
from tests.sdk.fakes import FakeProvider, TcpProxy  # noqa: E402


@pytest.fixture
def provider():
    fake = FakeProvider()
    yield fake
    fake.stop()


@pytest.fixture
def netra(live_server, api):
    """A NetraClient with alice's key against the live server; no background flusher,
    so tests decide when buffered usage is sent."""
    client = NetraClient(live_server.url, api.raw_key, retries=2, backoff=0.01, timeout=5, flush_interval=0)
    yield client
    client.close(flush=False)


@pytest.fixture
def proxy(live_server):
    host, port = live_server.thread.host, live_server.thread.port
    fwd = TcpProxy((host, port)).start()
    yield fwd
    fwd.stop()


@pytest.fixture
def openai_client(provider):
    import openai

    return openai.OpenAI(api_key="sk-test", base_url=f"{provider.url}/v1", max_retries=0)


@pytest.fixture
def anthropic_client(provider):
    import anthropic

    return anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.url, max_retries=0)


def stored(api, **params) -> list[dict]:
    """Usage records the server stored for alice (newest first)."""
    response = api.get("/api/v1/usage", {"page_size": 1000, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def budget_create(service_api, **fields) -> dict:
    """Create a budget for alice (a hard daily one unless ``fields`` say otherwise)."""
    body = {"scope": "user", "user": "alice", "period": "day", "enforcement": "hard", **fields}
    response = service_api.post("/api/v1/budgets", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()
