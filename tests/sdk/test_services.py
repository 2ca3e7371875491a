"""The token-saving services and the policy through the SDK, against the live server."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from netra_client import ValidationError
from optimization.models import PromptTemplate

pytestmark = pytest.mark.django_db(transaction=True)

VERBOSE = (
    "Please could you read the following ticket carefully. Your task is to classify it and "
    "return the answer in JSON format.\n\n\n   Ticket #4521: the invoice for 2025-03 shows $1,204.50   \n"
)


def test_optimize_prompt_reports_tokens_the_server_counts(netra):
    result = netra.optimize_prompt(model="gpt-4o", prompt=VERBOSE, level="balanced", agent="triage")

    assert result.original_tokens == netra.tokens_count(model="gpt-4o", text=VERBOSE).tokens
    assert result.optimized_tokens == netra.tokens_count(model="gpt-4o", text=result.optimized).tokens
    assert result.optimized_tokens < result.original_tokens
    assert "#4521" in result.optimized and "$1,204.50" in result.optimized
    assert result.techniques


def test_context_and_chunks(netra):
    text = "First paragraph about costs.\n\nSecond paragraph about budgets. It has two sentences."
    chunks = netra.optimize_chunks(model="gpt-4o", text=text, max_tokens_per_chunk=8)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]

    assert "".join(c["text"] for c in chunks["chunks"]) == text
    assert max(c["tokens"] for c in chunks["chunks"]) <= 8
    assert netra.optimize_context(model="gpt-4o", messages=messages)["messages"] == messages
    with pytest.raises(ValidationError) as too_big:
        netra.optimize_context(model="gpt-4o", messages=messages, max_response_tokens=10_000_000)
    assert too_big.value.status == 422


def test_cache_miss_store_hit(netra):
    messages = [{"role": "user", "content": f"What is our refund policy? {uuid.uuid4()}"}]
    answer = {"choices": [{"message": {"role": "assistant", "content": "30 days."}}]}

    miss = netra.cache_lookup(model="gpt-4o", messages=messages, params={"temperature": 0})
    netra.cache_store(model="gpt-4o", messages=messages, response=answer, params={"temperature": 0},
                      output_tokens=120)
    hit = netra.cache_lookup(model="gpt-4o", messages=messages, params={"temperature": 0})
    other_params = netra.cache_lookup(model="gpt-4o", messages=messages, params={"temperature": 1})

    assert (miss.hit, hit.hit, other_params.hit) == (False, True, False)
    assert hit.response == answer
    assert hit.tokens_saved > 0 and hit.usd_saved > Decimal(0)
    assert netra.cache_stats()["user"]["hits"] == 1


def test_templates_select_and_render(netra):

    PromptTemplate.objects.create(name="sdk_triage", agent_type="sdk", richness="low",
                                  body="Triage: {{user_request}}", baseline_body="Please triage this: {{user_request}}")

    chosen = netra.template_select(agent_type="sdk", richness="high")
    rendered = netra.template_render("sdk_triage", variables={"user_request": "refund #77"})
    with pytest.raises(ValidationError) as missing:
        netra.template_render("sdk_triage", variables={})

    assert (chosen["name"], chosen["fallback"]) == ("sdk_triage", True)
    assert rendered["rendered"] == "Triage: refund #77"
    assert missing.value.code == "missing_variable"
    assert missing.value.fields == {"variables": {"user_request": ["This variable is required."]}}


def test_policy(netra):
    policy = netra.policy()

    assert policy["user"] == "alice"
    assert policy["compression_level"] in {"none", "light", "medium", "aggressive"}
