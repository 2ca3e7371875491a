"""Budgets through the SDK against the live server: a hard budget blocks the call before the
provider is reached, reservations are committed by the usage or released, soft ones only warn."""

from __future__ import annotations

from decimal import Decimal

import pytest

from netra_client import BudgetExceeded, NetraClient, TokenTracker, wrap_anthropic, wrap_openai
from tests.sdk.conftest import budget_create, stored
from tests.sdk.fakes import ANTHROPIC_COST, OPENAI_COST

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "Draft a reply to the customer."}]


def test_hard_budget_blocks_before_the_provider_is_called(netra, openai_client, provider, api, service_api):
    budget_create(service_api, limit_usd="0.01")
    tracker = TokenTracker(netra, agent="writer")
    llm = wrap_openai(openai_client, tracker)
    assert tracker.can_afford(model="gpt-4o", messages=MESSAGES, max_output_tokens=300) is True

    for _ in range(2):  # 0.00472 each, with 300 output tokens held per call
        llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=300)
    with pytest.raises(BudgetExceeded) as blocked:
        llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=300)

    assert len(provider.calls("/chat/completions")) == 2  # the third call never left the agent
    assert blocked.value.reason == "budget_exceeded"
    (budget,) = blocked.value.budgets
    assert (budget["spent_usd"], budget["reserved_usd"], budget["limit_usd"]) == ("0.00944", "0", "0.01")
    assert [r["cost_usd"] for r in stored(api)] == [OPENAI_COST, OPENAI_COST]
    assert all(r["reservation_id"] for r in stored(api))  # each usage committed its hold
    assert tracker.can_afford(model="gpt-4o", messages=MESSAGES, max_output_tokens=300) is False
    assert tracker.metrics["blocked_calls"] == 1


def test_token_budget_blocks_anthropic_streams_too(netra, anthropic_client, provider, service_api):
    budget_create(service_api, scope="user_agent", agent="data", limit_tokens=12_800)
    llm = wrap_anthropic(anthropic_client, TokenTracker(netra, agent="data"))
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 400, "messages": MESSAGES}

    with llm.messages.stream(**kwargs) as stream:  # 12,450 tokens land
        stream.until_done()
    with pytest.raises(BudgetExceeded):
        llm.messages.create(stream=True, **kwargs)

    assert len(provider.calls("/messages")) == 1
    other_agent = wrap_anthropic(anthropic_client, TokenTracker(netra, agent="triage"))
    assert other_agent.messages.create(**kwargs).usage.output_tokens == 400  # per-agent budget only


def test_leaving_the_block_without_recording_releases_the_hold(netra, openai_client, api, service_api):
    budget_create(service_api, limit_usd="1")
    tracker = TokenTracker(netra, agent="planner")

    with pytest.raises(RuntimeError):
        with tracker.call(model="gpt-4o", messages=MESSAGES, max_output_tokens=300) as failed:
            raise RuntimeError("the agent crashed before calling the model")
    with tracker.call(model="gpt-4o", messages=MESSAGES, max_output_tokens=300) as skipped:
        pass
    with tracker.call(model="gpt-4o", messages=MESSAGES, max_output_tokens=300) as done:
        response = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        result = done.record(response)

    assert netra.reservation(failed.reservation_id)["status"] == "released"
    assert netra.reservation(skipped.reservation_id)["status"] == "released"
    assert netra.reservation(done.reservation_id)["status"] == "committed"
    assert (result.request_id, result.cost_usd) == (done.request_id, Decimal(OPENAI_COST))
    assert done.record(response) is result  # a second record is ignored, not stored twice
    assert len(stored(api)) == 1
    (budget,) = netra.budgets()
    assert (budget["spent_usd"], budget["reserved_usd"]) == (OPENAI_COST, "0")


def test_soft_budget_never_blocks(netra, openai_client, api, service_api):
    budget_create(service_api, limit_usd="0.000001", enforcement="soft")
    llm = wrap_openai(openai_client, TokenTracker(netra))

    for _ in range(2):
        llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert len(stored(api)) == 2


def test_service_key_tracks_a_users_run(live_server, service_api, api, anthropic_client):
    budget_create(service_api, limit_usd="0.02")
    netra = NetraClient(live_server.url, service_api.raw_key, retries=0, flush_interval=0)
    tracker = TokenTracker(netra, user="alice", agent="data", run_id="svc-run")
    llm = wrap_anthropic(anthropic_client, tracker)

    llm.messages.create(model="claude-sonnet-4-6", max_tokens=400, messages=MESSAGES)
    with pytest.raises(BudgetExceeded):
        llm.messages.create(model="claude-sonnet-4-6", max_tokens=400, messages=MESSAGES)

    (record,) = stored(api)
    assert (record["user"], record["run_id"], record["cost_usd"]) == ("alice", "svc-run", ANTHROPIC_COST)
    assert tracker.server_metrics().by_agent["data"]["cost_usd"] == Decimal(ANTHROPIC_COST)
    netra.close(flush=False)
