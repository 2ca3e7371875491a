"""A created record is answered as built, not read back: it must equal what is stored."""

import pytest

from tokens.models import Run, UsageRecord

RECORDS = [
    {  # OpenAI chat with cache and reasoning, a UTC offset, nested metadata
        "request_id": "rt-openai", "model": "gpt-4o", "agent": "triage", "tool": "search", "run_id": "RT",
        "occurred_at": "2026-01-02T03:04:05.123456+02:00", "latency_ms": 840, "cache_hit": False,
        "optimization": {"technique": "compress", "original_tokens": 4000},
        "reservation_id": "0b6f3f7e-2a49-4a8e-9a58-0f6d1c3e2b11",
        "metadata": {"zeta": 1, "a": {"nested": [1, 2.5, "x", None, True]}, "unicode": "héllo ✓"},
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300,
                  "prompt_tokens_details": {"cached_tokens": 1024},
                  "completion_tokens_details": {"reasoning_tokens": 100}},
    },
    {  # Anthropic with cache write, naive timestamp (UTC)
        "request_id": "rt-anthropic", "model": "claude-3-5-sonnet-20241022", "run_id": "RT",
        "occurred_at": "2026-01-02T01:00:00",
        "usage": {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 3000,
                  "cache_creation_input_tokens": 500},
    },
    {"request_id": "rt-unpriced", "model": "no-such-model", "prompt_tokens": 7, "completion_tokens": 3},
]


def _without_duplicate(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "duplicate"}


@pytest.mark.parametrize("payload", RECORDS, ids=lambda p: p["request_id"])
def test_single_post_answer_equals_the_stored_record(api, payload):
    created = api.post("/api/v1/usage", payload, format="json")
    assert created.status_code == 201
    again = api.post("/api/v1/usage", payload, format="json")
    assert again.status_code == 200
    listed = api.get("/api/v1/usage").json()["results"]

    assert _without_duplicate(created.json()) == _without_duplicate(again.json()) == listed[0]
    assert UsageRecord.objects.count() == 1


def test_batch_answer_equals_the_stored_records(api):
    body = api.post("/api/v1/usage", {"records": RECORDS + [RECORDS[0]]}, format="json").json()
    assert body["counts"] == {"created": 3, "duplicate": 1, "invalid": 0}
    answered = {r["record"]["request_id"]: r["record"] for r in body["results"][:3]}
    assert _without_duplicate(body["results"][3]["record"]) == _without_duplicate(answered["rt-openai"])

    again = api.post("/api/v1/usage", {"records": RECORDS}, format="json").json()
    assert again["counts"] == {"created": 0, "duplicate": 3, "invalid": 0}
    listed = {r["request_id"]: r for r in api.get("/api/v1/usage").json()["results"]}
    for result in again["results"]:
        request_id = result["record"]["request_id"]
        assert _without_duplicate(answered[request_id]) == listed[request_id]
        assert _without_duplicate(result["record"]) == listed[request_id]
    assert listed["rt-openai"]["occurred_at"] == "2026-01-02T01:04:05.123456+00:00"
    assert UsageRecord.objects.count() == 3
    assert Run.objects.filter(run_id="RT").count() == 1
