"""The token-saving API with a question, targets and semantic lookups; the data-request plan's shapes."""

from __future__ import annotations

import pytest

from optimization.data_request import plan_data_request
from optimization.models import SavingsRecord
from tokens.tokenizer import count_messages

pytestmark = pytest.mark.usefixtures("fresh_cache")

MODEL = "gpt-4o"
PROMPT = (
    "Answer from the context below.\n\n"
    "The refund window for annual plans is 30 days. After that, refunds are prorated.\n\n"
    "Our office in Lisbon opened in 2019. The building has a rooftop terrace and a small gym.\n\n"
    "Question: How long is the refund window for annual plans?"
)


def test_prompt_with_a_question_reports_what_went_and_records_the_saving(api, user):
    res = api.post("/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "level": "balanced",
                                               "question": "How long is the refund window for annual plans?"},
                   format="json")

    body = res.json()
    assert res.status_code == 200
    assert "Lisbon" not in body["optimized"] and "30 days" in body["optimized"]
    assert body["optimized"].endswith("Question: How long is the refund window for annual plans?")
    assert [d["text"] for d in body["dropped"]] == [
        "Our office in Lisbon opened in 2019.", "The building has a rooftop terrace and a small gym."
    ]
    assert body["techniques"][0] == "question_focus" and body["target_met"] is None
    record = SavingsRecord.objects.get(user=user)
    assert record.tokens_saved == body["original_tokens"] - body["optimized_tokens"] > 0


def test_target_ratio_becomes_a_token_target(api):
    res = api.post("/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "level": "aggressive",
                                               "target_ratio": 0.5}, format="json")

    body = res.json()
    assert body["target_tokens"] == body["original_tokens"] // 2
    assert body["target_met"] is (body["optimized_tokens"] <= body["target_tokens"])


def test_one_target_at_a_time(api):
    res = api.post("/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "target_tokens": 10,
                                               "target_reduction": 0.3}, format="json")

    assert res.status_code == 400
    assert set(res.json()["error"]["fields"]) == {"target_tokens", "target_reduction"}


def test_context_with_a_question_drops_the_least_relevant_history_for_a_target(api):
    messages = [
        {"role": "system", "content": "You are a billing assistant."},
        {"role": "user", "content": "The annual plan refund window is 30 days. " * 5},
        {"role": "user", "content": "Our office terrace is being painted. " * 5},
        {"role": "user", "content": "How long is the refund window?"},
    ]
    target = count_messages(messages, MODEL).tokens - 20  # one history message must go
    res = api.post("/api/v1/optimize/context", {"model": MODEL, "messages": messages, "target_tokens": target,
                                                "question": "refund window"}, format="json")

    body = res.json()
    assert res.status_code == 200
    assert body["dropped_indices"] == [2] and body["target_met"] is True


def test_semantic_lookup_through_the_api(api, user):
    system = {"role": "system", "content": "Be brief."}
    api.post("/api/v1/cache/store", {"model": MODEL, "semantic": True, "response": "Settings > Security",
                                     "messages": [system, {"role": "user", "content": "How can I reset my password?"}]},
             format="json")

    body = api.post("/api/v1/cache/lookup", {"model": MODEL, "semantic": True, "messages": [
        system, {"role": "user", "content": "how do I reset my password"}]}, format="json").json()

    assert body["hit"] is True and body["semantic"] is True and 0.8 <= body["similarity"] < 1
    assert body["response"] == "Settings > Security"


@pytest.mark.parametrize("previous", [
    {"per_agent_spend": {"triage": "1.20"}},
    [{"per_agent_spend": {"triage": "1.20"}}],
    [{"name": "Per agent spend", "rows": []}],
    [{"data_type": "per-agent-spend"}],
    {"r1": {"data_type": "per_agent_spend", "rows": []}},
    ["per_agent_spend"],
])
def test_the_planner_recognises_collected_data_in_every_shape(previous):
    plan = plan_data_request(user_request="Compare spend per agent.", model=MODEL, token_budget=500,
                             triage_result={"data_needed": ["per_agent_spend", "daily_costs"]},
                             previous_results=previous)

    assert plan.omitted == ["per_agent_spend"]
    assert "daily_costs" in plan.chunks[0]["text"] and "per_agent_spend" not in plan.chunks[0]["text"]


def test_requested_items_match_by_data_type_too():
    plan = plan_data_request(user_request="Compare spend.", model=MODEL, token_budget=500,
                             triage_result={"data_needed": [{"name": "Model mix", "data_type": "model_usage"}]},
                             previous_results=[{"data_type": "model_usage"}])

    assert plan.omitted == ["Model mix"]
