"""Budget checks never switch off while usage is buffered (issue 12, item 4): a backlog is
delivered before the next check, and while the server cannot be reached each tracker
fails open or closed, as it chose; hard budgets fail closed by default."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from netra_client import BudgetExceeded, NetraClient, TokenTracker, wrap_openai
from tests.sdk.conftest import budget_create, stored
from tests.sdk.fakes import OPENAI_COST

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "Draft a reply to the customer."}]
CALL = {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 300}


def _client(proxy, api, **options) -> NetraClient:
    return NetraClient(proxy.url, api.raw_key, **{"retries": 0, "timeout": 5, "flush_interval": 0, **options})


@pytest.mark.parametrize("flush_interval", [0, 5])
def test_a_buffered_backlog_does_not_switch_the_hard_budget_off(
    proxy, api, service_api, openai_client, provider, flush_interval
):
    budget_create(service_api, limit_usd="0.01")  # two calls at 0.00472 fit, a third does not
    netra = _client(proxy, api, flush_interval=flush_interval)
    llm = wrap_openai(openai_client, TokenTracker(netra, agent="writer", on_unreachable="fail_open"))
    proxy.stop()
    for _ in range(2):
        llm.chat.completions.create(**CALL)
    assert netra.pending == 2
    proxy.start()  # the server is back, with two calls it has not heard of in our buffer

    with pytest.raises(BudgetExceeded) as blocked:
        llm.chat.completions.create(**CALL)

    assert len(provider.calls("/chat/completions")) == 2  # the third call never left the agent
    assert blocked.value.reason == "budget_exceeded"
    (budget,) = blocked.value.budgets
    assert (budget["spent_usd"], budget["reserved_usd"], budget["limit_usd"]) == ("0.00944", "0", "0.01")
    assert netra.pending == 0  # the backlog was delivered before the check
    assert [r["cost_usd"] for r in stored(api)] == [OPENAI_COST, OPENAI_COST]
    netra.close(flush=False)


def test_fail_closed_allows_the_grace_period_then_refuses_before_the_provider(
    proxy, api, service_api, openai_client, provider
):
    budget_create(service_api, limit_usd="1")
    netra = _client(proxy, api)
    tracker = TokenTracker(netra, agent="writer", on_unreachable="fail_closed", grace_seconds=1)
    llm = wrap_openai(openai_client, tracker)
    llm.chat.completions.create(**CALL)
    proxy.stop()

    within_grace = [llm.chat.completions.create(**CALL).choices[0].message.content for _ in range(2)]
    time.sleep(1.05)  # the grace period runs from the first failed request
    with pytest.raises(BudgetExceeded) as refused:
        llm.chat.completions.create(**CALL)

    assert within_grace == ["Hello there."] * 2
    assert len(provider.calls("/chat/completions")) == 3  # the refused call never reached the provider
    assert refused.value.reason == "server_unreachable"
    assert "past the 1 s grace period: call refused (fail_closed)" in refused.value.message
    assert tracker.metrics["blocked_calls"] == 1
    assert netra.pending == 2

    proxy.start()
    llm.chat.completions.create(**CALL)  # the server answers again: checks resume, backlog first

    assert netra.pending == 0
    assert [r["cost_usd"] for r in stored(api)] == [OPENAI_COST] * 4
    netra.close(flush=False)


@pytest.mark.parametrize("enforcement, refused", [("hard", True), ("soft", False)])
def test_by_default_hard_budgets_fail_closed_and_the_rest_fail_open(
    proxy, api, service_api, openai_client, provider, enforcement, refused
):
    budget_create(service_api, limit_usd="1", enforcement=enforcement)
    netra = _client(proxy, api)
    llm = wrap_openai(openai_client, TokenTracker(netra, agent="writer", grace_seconds=0))
    llm.chat.completions.create(**CALL)  # the server says which budgets apply
    proxy.stop()

    if refused:
        with pytest.raises(BudgetExceeded) as exc:
            llm.chat.completions.create(**CALL)
        assert exc.value.reason == "server_unreachable"
        assert [b["enforcement"] for b in exc.value.budgets] == ["hard"]  # as the server last reported
    else:
        llm.chat.completions.create(**CALL)

    assert len(provider.calls("/chat/completions")) == (1 if refused else 2)
    netra.close(flush=False)


def test_fail_open_delivers_the_outage_usage_once_when_the_server_returns(
    proxy, api, service_api, openai_client, provider
):
    budget_create(service_api, limit_usd="1")  # hard: only the explicit choice keeps calls going
    netra = _client(proxy, api, retries=1, backoff=0.01)
    tracker = TokenTracker(netra, agent="support", run_id="run-open", on_unreachable="fail_open", grace_seconds=0)
    llm = wrap_openai(openai_client, tracker)
    llm.chat.completions.create(**CALL)
    proxy.stop()
    answers = [llm.chat.completions.create(**CALL).choices[0].message.content for _ in range(3)]
    buffered = netra.buffer.snapshot()
    proxy.start()
    proxy.drop_responses = 1  # the server stores the backlog, then its answer is lost

    llm.chat.completions.create(**CALL)  # still allowed: its check found no answer, so it fails open
    assert netra.pending == 4
    assert netra.flush() == 0  # sent again with the same request_ids

    assert answers == ["Hello there."] * 3
    records = stored(api, run_id="run-open")
    assert len(records) == len({r["request_id"] for r in records}) == 5
    assert {r["request_id"] for r in buffered} <= {r["request_id"] for r in records}
    assert sum(Decimal(r["cost_usd"]) for r in records) == 5 * Decimal(OPENAI_COST)
    assert netra.usage_create_batch(buffered).counts == {"created": 0, "duplicate": 3, "invalid": 0}
    assert tracker.server_metrics().totals["requests"] == tracker.metrics["totals"]["requests"] == 5
    netra.close(flush=False)


def test_a_short_outage_while_calls_continue_ends_within_the_hard_budget(
    proxy, api, service_api, openai_client, provider
):
    """Issue 12's case: 10 calls a second, the server gone for 3 s. This loop ended at 155 %
    of the hard budget when checks were skipped while anything was buffered."""
    limit = 40 * Decimal(OPENAI_COST)  # room for exactly 40 calls
    budget_create(service_api, limit_usd=str(limit))
    netra = NetraClient(proxy.url, api.raw_key)  # the defaults: 2 retries, a flush every 5 s
    llm = wrap_openai(openai_client, TokenTracker(netra, agent="loop"))
    outcomes = []
    start = time.monotonic()

    for i in range(62):  # 1.2 s up, 30 calls (3 s) down, 2 s up again
        if i == 12:
            proxy.stop()
        if i == 42:
            proxy.start()
        time.sleep(max(0.0, start + i / 10 - time.monotonic()))
        try:
            llm.chat.completions.create(**CALL)
            outcomes.append("made")
        except BudgetExceeded as exc:
            outcomes.append(exc.reason)
    netra.flush()

    (budget,) = netra.budgets()
    assert (budget["spent_usd"], budget["limit_usd"], budget["percent_used"]) == ("0.1888", "0.1888", "100.00")
    assert len(provider.calls("/chat/completions")) == 40
    # 12 made with the server up, 28 made in the outage within the room it last reported,
    # the last 2 of the outage refused, then every call refused by the server's own check.
    assert outcomes == ["made"] * 40 + ["server_unreachable"] * 2 + ["budget_exceeded"] * 20
    netra.close(flush=False)


def test_on_unreachable_takes_only_the_documented_values():
    client = NetraClient("http://127.0.0.1:9", "nk-any", flush_interval=0)

    with pytest.raises(ValueError, match="on_unreachable must be 'fail_open', 'fail_closed' or None, not 'closed'"):
        TokenTracker(client, on_unreachable="closed")
    with pytest.raises(ValueError, match="grace_seconds must be zero or more"):
        TokenTracker(client, grace_seconds=-1)
