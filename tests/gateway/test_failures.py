"""Calls that end badly: the hold is released and what was used is recorded (never $0 for used tokens)."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from budgets.models import Reservation
from gateway.models import ProviderCredential
from gateway.services import provider_credential_save
from organizations.models import Membership, Organization
from tests.gateway.conftest import settled, wait_until
from tests.gateway.fakes import FakeProvider, ServerThread
from tokens.models import UsageRecord

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _released(reservation_id: str) -> bool:
    return Reservation.objects.get(pk=reservation_id).status == Reservation.RELEASED


def test_an_upstream_error_is_relayed_and_its_hold_released_with_nothing_recorded(oai, fake):
    fake.mode = "status_500"
    with pytest.raises(openai.InternalServerError) as caught:
        oai.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.body["message"] == "fake upstream failure"
    reservation_id = caught.value.response.headers["x-netra-reservation-id"]
    wait_until(lambda: _released(reservation_id))
    assert UsageRecord.objects.count() == 0


def test_an_unreachable_upstream_is_a_502_in_openai_shape(oai, settings):
    settings.NETRA_OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (caught.value.status_code, caught.value.body["code"]) == (502, "upstream_unreachable")
    wait_until(lambda: _released(caught.value.response.headers["x-netra-reservation-id"]))
    assert UsageRecord.objects.count() == 0


def test_a_client_that_leaves_mid_stream_releases_the_hold_and_records_what_was_used(gateway, netra_key, fake):
    fake.mode = "slow"
    url = gateway.url + "/gateway/openai/v1/chat/completions"
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
    with httpx.Client() as client, client.stream("POST", url, json=body,
                                                 headers={"authorization": f"Bearer {netra_key}"}) as response:
        reservation_id = response.headers["x-netra-reservation-id"]
        seen = b""
        for chunk in response.iter_bytes():
            seen += chunk
            if seen.count(b"data:") >= 2:
                break
    [record] = settled()
    assert record.metadata["ended"] == "client_disconnected" and record.metadata["estimated"] is True
    # The counted prompt (10 tokens) and the output relayed so far ("Hello from": 2 tokens at least).
    assert record.input_tokens == 10 and record.output_tokens >= 2 and record.cost_usd > 0
    assert _released(reservation_id)
    wait_until(lambda: fake.disconnects == 1)  # the upstream stream was closed too


def test_a_stream_the_upstream_breaks_off_records_partial_anthropic_usage(claude, fake):
    fake.mode = "cut"
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream:
            for _ in stream.text_stream:
                pass
    assert caught.value.body["error"]["message"] == "The upstream stream broke off: RemoteProtocolError."
    [record] = settled()
    assert record.metadata["ended"] == "upstream_error" and record.metadata["estimated"] is True
    # message_start said 100 input, 50 cache read, 10 cache write; two text deltas went out.
    assert (record.input_tokens, record.cached_input_tokens, record.cache_write_tokens) == (100, 50, 10)
    assert record.output_tokens >= 2 and record.cost_usd > 0
    assert Reservation.objects.get().status == Reservation.RELEASED


def test_an_organizations_own_upstream_and_key_are_used(oai, fake, user):
    other = FakeProvider()
    server = ServerThread(other).start()
    try:
        org = Organization.objects.create(name="Acme", slug="acme")
        Membership.objects.create(organization=org, user=user, role="owner")
        provider_credential_save(credential=ProviderCredential(organization=org, provider="openai",
                                                               base_url=server.url + "/v1"),
                                 api_key="sk-acme-own-key-123456")
        stored = ProviderCredential.objects.get()
        assert "sk-acme" not in stored.api_key_sealed and stored.api_key_hint == "…3456"
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert fake.requests == []
        assert other.requests[-1]["headers"]["authorization"] == "Bearer sk-acme-own-key-123456"
        settled()
    finally:
        server.stop()
