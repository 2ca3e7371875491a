"""A real gateway (the project's ASGI app under uvicorn) in front of fake providers, all on loopback.

Tests are transactional so the server's threads see what the test wrote, and the test sees what the
gateway recorded (settlement runs after the response: ``settled`` waits for it).
"""

from __future__ import annotations

import faulthandler
import time

import anthropic
import openai
import pytest

from budgets.models import Reservation
from netra_site.asgi import application as asgi_application
from tests.gateway.fakes import FakeProvider, ServerThread
from tokens.models import UsageRecord
from tokens.services import api_key_create

UPSTREAM_OPENAI_KEY = "sk-upstream-openai-0001"
UPSTREAM_ANTHROPIC_KEY = "sk-ant-upstream-0002"


@pytest.fixture
def fake():
    provider = FakeProvider()
    server = ServerThread(provider).start()
    provider.url = server.url
    yield provider
    server.stop()


@pytest.fixture
def gateway(fake, settings, transactional_db, catalog):
    settings.NETRA_OPENAI_BASE_URL = fake.url + "/v1"
    settings.NETRA_OPENAI_API_KEY = UPSTREAM_OPENAI_KEY
    settings.NETRA_ANTHROPIC_BASE_URL = fake.url
    settings.NETRA_ANTHROPIC_API_KEY = UPSTREAM_ANTHROPIC_KEY
    server = ServerThread(asgi_application).start()
    yield server
    server.stop()


@pytest.fixture
def netra_key(user) -> str:
    _, raw = api_key_create(user=user, name="gateway")
    return raw


@pytest.fixture
def oai(gateway, netra_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/gateway/openai/v1", api_key=netra_key, max_retries=0)


@pytest.fixture
def claude(gateway, netra_key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url + "/gateway/anthropic", api_key=netra_key, max_retries=0)


def wait_until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            faulthandler.dump_traceback(all_threads=True)  # what the server threads are stuck on
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def settled(request_id: str | None = None, *, count: int = 1) -> list[UsageRecord]:
    """The gateway's records once settled (and no hold of theirs still active)."""
    def records():
        qs = UsageRecord.objects.filter(metadata__source__in=["gateway", "otlp"]).order_by("occurred_at")
        if request_id:
            qs = qs.filter(request_id=request_id)
        found = list(qs)
        return found if len(found) >= count else None
    return wait_until(records)


def reservation_of(request_id_header: str) -> Reservation:
    return Reservation.objects.get(pk=request_id_header)
