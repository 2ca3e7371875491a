"""wrap_openai / wrap_anthropic against the live server, with the official SDKs talking to
a fake provider: exact costs land, streams are tracked, the agent's call is untouched."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from netra_client import TokenTracker, wrap_anthropic, wrap_openai
from tests.sdk.conftest import stored
from tests.sdk.fakes import ANTHROPIC_COST, OPENAI_COST, RESPONSES_COST
from tokens.counts import TOKEN_CLASSES

# The server's tokens object names every class; these calls have none of the newer ones.
NO_TOKENS = dict.fromkeys(TOKEN_CLASSES, 0)

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "system", "content": "You triage tickets."}, {"role": "user", "content": "Printer on fire"}]


def test_openai_call_lands_with_exact_cost(netra, openai_client, api, provider):
    tracker = TokenTracker(netra, agent="triage", run_id="run-openai-1")
    llm = wrap_openai(openai_client, tracker)

    response = llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, netra_tool="classify")

    assert response.choices[0].message.content == "Hello there."
    assert "netra_tool" not in provider.calls("/chat/completions")[0]
    (record,) = stored(api)
    assert record["model"] == "gpt-4o"
    assert record["agent"] == "triage"
    assert record["tool"] == "classify"
    assert record["run_id"] == "run-openai-1"
    assert record["tokens"] == {**NO_TOKENS, "input": 176, "cached_input": 1024, "cache_write": 0, "output": 300,
                                "reasoning": 0, "total": 1500}
    assert record["cost_usd"] == OPENAI_COST
    assert record["metadata"] == {"response_model": "gpt-4o-2024-08-06"}
    totals = tracker.metrics["totals"]
    assert totals["cost_usd"] == Decimal(OPENAI_COST)
    assert totals["prompt_tokens"] == 1200
    assert totals["completion_tokens"] == 300
    assert tracker.metrics["by_tool"]["classify"]["requests"] == 1


def test_openai_stream_asks_for_usage_and_hides_its_extra_chunk(netra, openai_client, api, provider):
    tracker = TokenTracker(netra, agent="writer")
    llm = wrap_openai(openai_client, tracker)

    stream = llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    chunks = list(stream)

    assert provider.calls("/chat/completions")[0]["stream_options"] == {"include_usage": True}
    # The caller did not ask for usage, so the usage-only chunk (no choices) is not passed on.
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there."
    (record,) = stored(api)
    assert record["cost_usd"] == OPENAI_COST
    assert record["agent"] == "writer"
    assert record["run_id"] == tracker.run_id


def test_openai_stream_keeps_the_usage_chunk_when_the_caller_asked(netra, openai_client, api):
    llm = wrap_openai(openai_client, TokenTracker(netra))

    with llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                     stream_options={"include_usage": True}) as stream:
        chunks = list(stream)

    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 1200
    assert [r["cost_usd"] for r in stored(api)] == [OPENAI_COST]


def test_openai_stream_helper_is_tracked(netra, openai_client, api):
    llm = wrap_openai(openai_client, TokenTracker(netra, agent="helper"))

    with llm.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        final = stream.get_final_completion()

    assert final.choices[0].message.content == "Hello there."
    (record,) = stored(api)
    assert (record["agent"], record["cost_usd"]) == ("helper", OPENAI_COST)


def test_openai_responses_api_is_tracked_streamed_or_not(netra, openai_client, api, provider):
    tracker = TokenTracker(netra, agent="researcher")
    llm = wrap_openai(openai_client, tracker)

    response = llm.responses.create(model="gpt-4o", instructions="Be brief.", input="Summarise the outage.")
    events = list(llm.responses.create(model="gpt-4o", input=[{"role": "user", "content": "Again"}], stream=True))

    assert response.output_text == "Hello there."
    assert events[-1].type == "response.completed"
    records = stored(api)
    assert [r["cost_usd"] for r in records] == [RESPONSES_COST, RESPONSES_COST]
    assert records[0]["tokens"] == {**NO_TOKENS, "input": 176, "cached_input": 1024, "cache_write": 0,
                                    "output": 180, "reasoning": 120, "total": 1500}
    assert tracker.metrics["totals"]["reasoning_tokens"] == 240
    # Both calls were checked and reserved first (text input and message items alike).
    assert all(r["reservation_id"] for r in records)


def test_anthropic_call_lands_with_exact_cost(netra, anthropic_client, api):
    tracker = TokenTracker(netra, agent="data", run_id="run-claude")
    llm = wrap_anthropic(anthropic_client, tracker)

    message = llm.messages.create(model="claude-sonnet-4-6", max_tokens=1024, system="You summarise.",
                                  messages=[{"role": "user", "content": "Summarise"}])

    assert message.content[0].text == "Hello there."
    (record,) = stored(api)
    assert record["reservation_id"]  # checked and reserved before the call
    assert record["tokens"] == {**NO_TOKENS, "input": 50, "cached_input": 10000, "cache_write": 2000, "output": 400,
                                "reasoning": 0, "total": 12450}
    assert record["cost_usd"] == ANTHROPIC_COST
    assert tracker.metrics["by_agent"]["data"]["cost_usd"] == Decimal(ANTHROPIC_COST)


def test_anthropic_raw_stream_combines_start_and_delta_usage(netra, anthropic_client, api):
    llm = wrap_anthropic(anthropic_client, TokenTracker(netra, agent="data"))

    events = list(llm.messages.create(model="claude-sonnet-4-6", max_tokens=1024, stream=True,
                                      messages=[{"role": "user", "content": "Summarise"}]))

    assert [e.type for e in events][0] == "message_start"
    (record,) = stored(api)
    # input and cache tokens come from message_start, output (400, not 1) from message_delta
    assert record["tokens"]["output"] == 400
    assert record["tokens"]["cache_write"] == 2000
    assert record["cost_usd"] == ANTHROPIC_COST


def test_anthropic_content_blocks_are_counted_for_the_reservation(netra, anthropic_client, api):
    llm = wrap_anthropic(anthropic_client, TokenTracker(netra, agent="data"))
    blocks = [{"type": "text", "text": "You summarise.", "cache_control": {"type": "ephemeral"}}]

    llm.messages.create(model="claude-sonnet-4-6", max_tokens=400, system=blocks, messages=[
        {"role": "user", "content": [{"type": "text", "text": "Summarise the attached report."}]},
    ])

    (record,) = stored(api)
    reservation = netra.reservation(record["reservation_id"])
    counted = netra.tokens_count(model="claude-sonnet-4-6", messages=[
        {"role": "system", "content": blocks},
        {"role": "user", "content": [{"type": "text", "text": "Summarise the attached report."}]},
    ])
    assert reservation["status"] == "committed"
    assert reservation["actual_tokens"] == 12450
    # The hold was the server's exact count of the system and user blocks plus the 400-token cap.
    assert reservation["tokens"] == counted.tokens + 400


def test_anthropic_stream_helper_is_tracked(netra, anthropic_client, api):
    llm = wrap_anthropic(anthropic_client, TokenTracker(netra, agent="data"))

    with llm.messages.stream(model="claude-sonnet-4-6", max_tokens=1024,
                             messages=[{"role": "user", "content": "Summarise"}]) as stream:
        text = "".join(stream.text_stream)

    assert text == "Hello there."
    assert [r["cost_usd"] for r in stored(api)] == [ANTHROPIC_COST]


def test_async_clients_are_tracked(netra, provider, api):
    import anthropic
    import openai

    tracker = TokenTracker(netra, agent="async")
    oai = wrap_openai(openai.AsyncOpenAI(api_key="k", base_url=f"{provider.url}/v1", max_retries=0), tracker)
    claude = wrap_anthropic(anthropic.AsyncAnthropic(api_key="k", base_url=provider.url, max_retries=0), tracker)

    async def agent():
        first = await oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        streamed = [c async for c in stream]
        async with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64,
                                          messages=[{"role": "user", "content": "hi"}]) as s:
            final = await s.get_final_message()
        return first, streamed, final

    first, streamed, final = asyncio.run(agent())

    assert first.choices[0].message.content == "Hello there."
    assert all(c.choices for c in streamed)
    assert final.usage.output_tokens == 400
    assert sorted(r["cost_usd"] for r in stored(api)) == sorted([OPENAI_COST, OPENAI_COST, ANTHROPIC_COST])
    assert tracker.metrics["totals"]["cost_usd"] == Decimal(OPENAI_COST) * 2 + Decimal(ANTHROPIC_COST)


def test_provider_error_reaches_the_agent_and_records_nothing(netra, openai_client, api, provider):
    import openai

    provider.fail_next = 1
    llm = wrap_openai(openai_client, TokenTracker(netra))

    with pytest.raises(openai.InternalServerError):
        llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert stored(api) == []


def test_untracked_parts_of_the_client_pass_through(netra, openai_client):
    llm = wrap_openai(openai_client, TokenTracker(netra))

    assert llm.base_url == openai_client.base_url
    assert llm.models is openai_client.models
    assert llm.with_options(timeout=5).chat.completions.create.__self__.__class__.__name__ == "_OpenAICompletions"
