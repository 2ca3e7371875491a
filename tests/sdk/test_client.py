"""NetraClient against the live server: typed results and clear exceptions; and the usage
readers on the shapes the official SDKs produce."""

from __future__ import annotations

from decimal import Decimal

import pytest
from netra_client.usage import ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES, Counts, detect_format, normalize

from netra_client import AuthError, NetraClient, NotFoundError, TokenTracker, ValidationError
from tests.sdk.fakes import ANTHROPIC_USAGE, OPENAI_USAGE


@pytest.mark.django_db(transaction=True)
class TestLiveClient:
    def test_usage_single_and_batch_typed(self, netra):
        first = netra.usage_create({"request_id": "c-1", "model": "gpt-4o", "agent": "a",
                                    "usage": OPENAI_USAGE})
        again = netra.usage_create({"request_id": "c-1", "model": "gpt-4o", "agent": "a",
                                    "usage": OPENAI_USAGE})
        batch = netra.usage_create_batch([
            {"request_id": "c-2", "model": "claude-sonnet-4-6", "usage": ANTHROPIC_USAGE},
            {"request_id": "c-1", "model": "gpt-4o", "usage": OPENAI_USAGE},
            {"request_id": "c-3", "usage": OPENAI_USAGE},
        ])

        assert (first.duplicate, first.cost_usd, first.tokens.cached_input) == (False, Decimal("0.00472"), 1024)
        assert (again.duplicate, again.id) == (True, first.id)
        assert batch.counts == {"created": 1, "duplicate": 1, "invalid": 1}
        assert [i.status for i in batch.items] == ["created", "duplicate", "invalid"]
        assert batch.items[0].record.cost_usd == Decimal("0.01665")
        assert batch.items[2].errors == {"model": ["This field is required."]}

    def test_validation_error_carries_the_servers_field_errors(self, netra):
        with pytest.raises(ValidationError) as exc:
            netra.usage_create({"request_id": "v-1", "model": "gpt-4o", "usage": {"prompt_tokens": -1}})

        assert exc.value.status == 400
        assert exc.value.code == "invalid"
        assert exc.value.fields == {"usage.prompt_tokens": ["Must be a non-negative integer."]}

    def test_bad_key_is_an_auth_error(self, live_server, catalog):
        client = NetraClient(live_server.url, "nk-not-a-key", retries=0, flush_interval=0)

        with pytest.raises(AuthError) as exc:
            client.tokens_count(model="gpt-4o", text="hello")

        assert (exc.value.status, exc.value.code) == (401, "authentication_failed")

    def test_customer_key_cannot_act_for_another_user(self, netra, other_user):
        with pytest.raises(AuthError) as exc:
            netra.usage_list(user="bob")

        assert exc.value.status == 403

    def test_tokens_count_run_and_listing(self, netra):
        count = netra.tokens_count(model="gpt-4o", text="hello world")
        netra.usage_create({"request_id": "r-1", "model": "gpt-4o", "agent": "triage", "tool": "search",
                            "run_id": "run-42", "usage": OPENAI_USAGE})
        run = netra.run("run-42")

        assert (count.model, count.tokens, count.exact) == ("gpt-4o", 2, True)
        assert run.by_agent["triage"]["cost_usd"] == Decimal("0.00472")
        assert run.by_tool["search"]["total_tokens"] == 1500
        assert [r["request_id"] for r in netra.usage_list(run_id="run-42")["results"]] == ["r-1"]
        assert netra.usage_summary(group_by="model")["totals"]["cost_usd"] == "0.00472"
        with pytest.raises(NotFoundError):
            netra.run("no-such-run")

    def test_base_url_may_include_the_api_prefix(self, live_server, api):
        client = NetraClient(f"{live_server.url}/api/v1/", api.raw_key, retries=0, flush_interval=0)

        assert any(m["name"] == "gpt-4o" for m in client.models(provider="openai"))

    def test_tracker_record_accepts_a_bare_usage_dict(self, netra, api):
        tracker = TokenTracker(netra, agent="etl", run_id="run-dict")

        result = tracker.record(usage=dict(ANTHROPIC_USAGE), model="claude-sonnet-4-6", tool="load")

        assert result.cost_usd == Decimal("0.01665")
        assert tracker.metrics["by_tool"]["load"]["cache_write_tokens"] == 2000
        assert tracker.server_metrics().totals["total_tokens"] == tracker.metrics["totals"]["total_tokens"]


def test_usage_format_detection():
    assert detect_format(OPENAI_USAGE) == OPENAI_CHAT
    assert detect_format(ANTHROPIC_USAGE) == ANTHROPIC
    assert detect_format({"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}) == OPENAI_RESPONSES
    assert detect_format({"input_tokens": 5, "output_tokens": 2}) is None  # the server decides by model


def test_normalize_prices_each_token_once():
    assert normalize(OPENAI_USAGE, None) == Counts(input=176, cached_input=1024, output=300)
    assert normalize(ANTHROPIC_USAGE, None) == Counts(input=50, cached_input=10000, cache_write=2000, output=400)
    responses = {"input_tokens": 900, "output_tokens": 500, "total_tokens": 1400,
                 "input_tokens_details": {"cached_tokens": 800},
                 "output_tokens_details": {"reasoning_tokens": 450}}
    assert normalize(responses, OPENAI_RESPONSES) == Counts(input=100, cached_input=800, output=50, reasoning=450)
    assert normalize(responses, OPENAI_RESPONSES).total == 1400
