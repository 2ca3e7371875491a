"""The official openai SDK through the gateway, unchanged but for base_url and api_key."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest
from django.core.asgi import get_asgi_application

from budgets.models import Reservation
from budgets.services import budget_create
from organizations.models import Membership, Organization, Project
from tests.gateway.conftest import UPSTREAM_OPENAI_KEY, settled, wait_until
from tests.gateway.fakes import CHAT_USAGE, WORDS, ServerThread
from tokens.services import api_key_create

HEADERS = {"x-netra-agent": "triage", "x-netra-run-id": "run-42", "x-netra-tags": "team:search, prod"}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def test_chat_completion_is_relayed_recorded_and_its_hold_committed(oai, fake, user):
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES, max_tokens=64,
                                                        extra_headers=HEADERS)
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.usage.prompt_tokens == 120
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_OPENAI_KEY}"
    assert not any(name.startswith("x-netra-") for name in sent["headers"])
    assert sent["body"]["messages"] == MESSAGES and "stream_options" not in sent["body"]

    [record] = settled(raw.headers["x-netra-request-id"])
    assert (record.user, record.model, record.agent, record.run_id) == (user, "gpt-4o", "triage", "run-42")
    assert (record.input_tokens, record.cached_input_tokens, record.output_tokens) == (100, 20, 30)
    # gpt-4o: $2.50 / 1M input, $1.25 / 1M cached input, $10 / 1M output.
    assert record.cost_usd == Decimal("0.0002500000") + Decimal("0.0000250000") + Decimal("0.0003000000")
    assert record.metadata["tags"] == ["team:search", "prod"]
    assert (record.metadata["endpoint"], record.metadata["ended"]) == ("chat.completions", "complete")
    reservation = Reservation.objects.get(pk=raw.headers["x-netra-reservation-id"])
    wait_until(lambda: Reservation.objects.get(pk=reservation.pk).status == Reservation.COMMITTED)
    reservation.refresh_from_db()
    assert (reservation.input_tokens, reservation.output_tokens) == (17, 64)
    assert (reservation.actual_tokens, reservation.record_id) == (150, record.pk)


def test_chat_stream_is_relayed_chunk_by_chunk_and_usage_read_from_the_last_event(oai, fake):
    with oai.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                             extra_headers=HEADERS) as raw:
        chunks = list(raw.parse())
        request_id = raw.headers["x-netra-request-id"]
    # The gateway asked for usage; the caller did not, so it never sees the usage-only chunk.
    assert fake.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(WORDS)
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    [record] = settled(request_id)
    assert (record.input_tokens, record.cached_input_tokens, record.output_tokens) == (100, 20, 30)
    assert record.metadata["ended"] == "complete" and record.metadata["estimated"] is False


def test_a_caller_that_asks_for_usage_gets_the_usage_chunk(oai, fake):
    stream = oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == CHAT_USAGE["prompt_tokens"]
    assert len(settled()) == 1


def test_responses_whole_and_streamed(oai, fake):
    response = oai.responses.create(model="gpt-4o", input="Say hello.", max_output_tokens=50)
    assert response.output_text == "".join(WORDS)
    events = list(oai.responses.create(model="gpt-4o", input=[{"role": "user", "content": "Hi"}], stream=True))
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "".join(WORDS)
    assert "stream_options" not in fake.requests[-1]["body"]
    records = settled(count=2)
    assert [(r.input_tokens, r.output_tokens, r.reasoning_tokens) for r in records] == [(80, 20, 5)] * 2
    assert {r.metadata["endpoint"] for r in records} == {"responses"}


def test_embeddings(oai, fake):
    result = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert [d.embedding for d in result.data] == [[0.25, -0.5, 1.0]] * 2
    [record] = settled()
    assert (record.model, record.input_tokens, record.output_tokens) == ("text-embedding-3-small", 8, 0)
    assert record.cost_usd > 0


def test_a_hard_budget_denies_with_429_in_openai_shape_naming_the_budget(oai, fake, user, staff_user):
    from_budget = _budget(user, staff_user, limit_tokens=50)
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=64)
    error = caught.value
    assert error.status_code == 429
    assert error.body["code"] == "budget_exceeded" and error.body["type"] == "insufficient_quota"
    assert f'budget {from_budget.pk} "All your usage" (user, month) has 50 of 50 tokens left' in error.body["message"]
    assert error.response.headers["x-netra-denied-by"] == str(from_budget.pk)
    assert fake.requests == [] and Reservation.objects.count() == 0


def test_bad_key_and_bad_input_answer_4xx_in_openai_shape(gateway, oai, fake):
    stranger = openai.OpenAI(base_url=gateway.url + "/gateway/openai/v1", api_key="ntk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        stranger.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages="not a list")
    assert (caught.value.body["param"], caught.value.body["type"]) == ("messages", "invalid_request_error")
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="", messages=MESSAGES)
    assert caught.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-netra-agent": "x" * 101})
    assert caught.value.body["param"] == "x-netra-agent"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=-1)
    assert caught.value.body["param"] == "max_tokens"
    assert fake.requests == [] and Reservation.objects.count() == 0


def _budget(user, staff_user, **limits):
    return budget_create(by=staff_user, scope="user", user=user, period="month", enforcement="hard", **limits)


def test_the_django_views_serve_the_gateway_too(fake, gateway, netra_key):
    """Through Django's URLs and middleware (as a server without gateway.asgi in front reaches it)."""
    server = ServerThread(get_asgi_application()).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/gateway/openai/v1", api_key=netra_key, max_retries=0)
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(WORDS)
        with pytest.raises(openai.BadRequestError):
            client.embeddings.create(model="text-embedding-3-small", input=[])
        [record] = settled()
        assert record.output_tokens == 30
    finally:
        server.stop()


def test_a_key_over_its_requests_per_minute_is_refused_429_with_retry_after(gateway, fake, user):
    org = Organization.objects.create(name="Rate Org", slug="rate-org")
    Membership.objects.create(organization=org, user=user, role=Membership.OWNER)
    project = Project.objects.create(organization=org, name="Web", slug="web")
    _, raw = api_key_create(user=user, name="limited", project=project, rpm_limit=1)
    limited = openai.OpenAI(base_url=gateway.url + "/gateway/openai/v1", api_key=raw, max_retries=0)
    limited.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=8,
                                    extra_headers={"x-netra-tags": "ads"})
    with pytest.raises(openai.RateLimitError) as caught:
        limited.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=8)
    error = caught.value
    assert error.status_code == 429 and error.body["code"] == "rate_limit_exceeded"
    assert "1 requests per minute" in error.body["message"]
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert error.response.headers["x-ratelimit-limit-requests"] == "1"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(fake.requests) == 1
    [record] = settled(count=1)
    assert (record.organization_id, record.project_id, record.tags) == (org.pk, project.pk, ["ads"])
