"""The official anthropic SDK through the gateway (x-api-key), whole and streamed."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import pytest

from budgets.models import Reservation
from budgets.services import budget_create
from tests.gateway.conftest import UPSTREAM_ANTHROPIC_KEY, settled, wait_until
from tests.gateway.fakes import WORDS

MODEL = "claude-sonnet-4-6"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def test_message_is_relayed_and_recorded_with_cache_tokens_counted_once(claude, fake, user):
    raw = claude.messages.with_raw_response.create(model=MODEL, max_tokens=100, system="Be brief.",
                                                   messages=MESSAGES, extra_headers={"x-netra-agent": "writer"})
    message = raw.parse()
    assert message.content[0].text == "".join(WORDS)
    sent = fake.requests[-1]
    assert (sent["path"], sent["headers"]["x-api-key"]) == ("/v1/messages", UPSTREAM_ANTHROPIC_KEY)
    assert sent["headers"]["anthropic-version"] == raw.http_request.headers["anthropic-version"]
    [record] = settled(raw.headers["x-netra-request-id"])
    assert (record.agent, record.input_tokens, record.cached_input_tokens, record.cache_write_tokens,
            record.output_tokens) == ("writer", 100, 50, 10, 40)
    # claude-sonnet-4-6: $3 input, $0.30 cache read, $3.75 cache write, $15 output per 1M.
    assert record.cost_usd == Decimal("0.000300") + Decimal("0.000015") + Decimal("0.0000375") + Decimal("0.000600")
    wait_until(lambda: Reservation.objects.get(pk=raw.headers["x-netra-reservation-id"]).status == "committed")


def test_message_stream_usage_from_message_start_and_message_delta(claude, fake):
    with claude.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(WORDS) and final.usage.output_tokens == 40
    [record] = settled()
    assert (record.input_tokens, record.cached_input_tokens, record.cache_write_tokens, record.output_tokens) == (
        100, 50, 10, 40)
    assert record.metadata["estimated"] is False


def test_budget_denial_is_anthropics_rate_limit_error(claude, fake, user, staff_user):
    budget = budget_create(by=staff_user, scope="user", user=user, period="day", enforcement="hard",
                           limit_usd=Decimal("0.000001"))
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    message = caught.value.body["error"]["message"]
    assert f'budget {budget.pk} "All your usage" (user, day) has <$0.0001 of <$0.0001 left' in message
    assert fake.requests == []


def test_bad_key_and_missing_max_tokens_in_anthropic_shape(gateway, claude, fake):
    stranger = anthropic.Anthropic(base_url=gateway.url + "/gateway/anthropic", api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        stranger.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, extra_body={"system": 5})
    assert caught.value.body == {"type": "error", "error": {
        "type": "invalid_request_error", "message": "'system' must be a string or a list of text blocks."}}
    assert fake.requests == []
