"""Prompt, data-request, cache, template and preference endpoints; the savings ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import override_settings

from optimization import cache as response_cache
from optimization import savings
from optimization.compression import compress
from optimization.models import PromptTemplate, ResponseCacheEntry, SavingsRecord
from tokens.pricing import catalog
from tokens.tokenizer import count_messages, count_text

MODEL = "gpt-4o"
PROMPT = (
    "Please could you summarize the following report in JSON format? "
    "It is very important that you do not guess."
)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _price(model=MODEL):

    return catalog.latest(model)


def test_optimize_prompt_reports_exact_tokens_and_records_saving(
    api, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        res = api.post(
            "/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "level": "balanced"}, format="json"
        )
    assert res.status_code == 200
    body = res.json()
    expected = compress(PROMPT, level="balanced").text
    assert body["optimized"] == expected == "Summarize report as JSON? Do not guess."
    assert body["original_tokens"] == count_text(PROMPT, MODEL).tokens
    assert body["optimized_tokens"] == count_text(expected, MODEL).tokens
    saved = body["original_tokens"] - body["optimized_tokens"]
    assert body["savings_percent"] == round(100 * saved / body["original_tokens"], 1)
    assert body["techniques"] == ["phrase_rules"]
    rec = SavingsRecord.objects.get(user=user)
    assert rec.technique == "compression:balanced" and rec.tokens_saved == saved
    assert rec.usd_saved == saved * _price().input_per_million / Decimal(1_000_000)
    assert len(callbacks) == 1  # the token_optimization event goes out after commit


def test_token_optimization_event_payload(user, catalog, monkeypatch):

    sent = []
    monkeypatch.setattr(savings, "publish", lambda uid, kind, data: sent.append((uid, kind, data)))
    savings.savings_record_create(
        user=user, technique="compression:light", model=MODEL, original_tokens=200, optimized_tokens=150
    )
    assert sent == [
        (
            user.pk,
            "token_optimization",
            {
                "source": "optimize",
                "technique": "compression:light",
                "model": MODEL,
                "agent": "",
                "original_tokens": 200,
                "optimized_tokens": 150,
                "tokens_saved": 50,
                "savings_percent": 25.0,
                "usd_saved": format((50 * _price().input_per_million / Decimal(1_000_000)).normalize(), "f"),
            },
        )
    ]


def test_target_reduction_escalates_level(api):
    res = api.post(
        "/api/v1/optimize/prompt",
        {"model": MODEL, "prompt": PROMPT, "level": "light", "target_reduction": 0.3},
        format="json",
    )
    body = res.json()
    assert body["level"] in ("balanced", "aggressive") and body["target_met"] is True
    assert body["savings_percent"] >= 30.0


def test_opt_out_returns_input_unchanged(api, user):
    assert api.put("/api/v1/optimize/preferences", {"optimization_enabled": False}, format="json").json() == {
        "optimization_enabled": False
    }
    body = api.post("/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT}, format="json").json()
    assert body["optimized"] == PROMPT and body["optimized_tokens"] == body["original_tokens"]
    assert body["optimization_enabled"] is False and body["techniques"] == []
    msgs = [{"role": "user", "content": "hi"}]
    ctx = api.post("/api/v1/optimize/context", {"model": MODEL, "messages": msgs}, format="json").json()
    assert ctx["messages"] == msgs and ctx["dropped"] == 0 and ctx["optimization_enabled"] is False
    assert (
        api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": msgs}, format="json").json()["hit"]
        is False
    )
    assert SavingsRecord.objects.filter(user=user).count() == 0
    assert api.get("/api/v1/optimize/preferences").json() == {"optimization_enabled": False}


def test_service_key_acts_for_user_and_customers_cannot(service_api, other_api, user):
    res = service_api.post(
        "/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "user": "alice"}, format="json"
    )
    assert res.status_code == 200 and SavingsRecord.objects.filter(user=user).count() == 1
    res = other_api.post(
        "/api/v1/optimize/prompt", {"model": MODEL, "prompt": PROMPT, "user": "alice"}, format="json"
    )
    assert res.status_code == 403


def test_data_request_skips_present_data_and_picks_strategy(api):
    triage = {
        "category": "cost_optimization",
        "entities": ["gpt-4o", "Q3", "$58,900", "latency"],
        "data_needed": [
            "usage_by_model",
            "daily_costs",
            "latency_p95",
            "budgets",
            "cache_stats",
            "token_counts_by_agent",
        ],
    }
    body = api.post(
        "/api/v1/optimize/data-request",
        {
            "model": MODEL,
            "token_budget": 400,
            "triage_result": triage,
            "previous_results": {"daily_costs": [1, 2]},
            "user_request": "Compare our GPT spend across models and agents over time, and forecast Q4. "
            "Why did costs rise? Which agent should we optimize first?",
        },
        format="json",
    ).json()
    assert body["complexity"] == "high" and body["strategy"] == "progressive_disclosure"
    assert body["omitted"] == ["daily_costs"]
    text = "".join(c["text"] for c in body["chunks"])
    assert "daily_costs" not in text and "usage_by_model" in text
    assert all(c["tokens"] <= 500 for c in body["chunks"])
    assert body["estimated_tokens"] == sum(c["tokens"] for c in body["chunks"])
    assert body["optimization_applied"] is True and "skip_present_data" in body["techniques"]

    low = api.post(
        "/api/v1/optimize/data-request",
        {
            "model": MODEL,
            "token_budget": 400,
            "user_request": "Show today's spend.",
            "triage_result": {"data_needed": ["daily_costs"]},
        },
        format="json",
    ).json()
    assert (low["complexity"], low["strategy"], low["optimization_applied"]) == ("low", "direct", False)

    medium = api.post(
        "/api/v1/optimize/data-request",
        {
            "model": MODEL,
            "token_budget": 400,
            "user_request": "Break down spend by model for last week.",
            "triage_result": {
                "data_needed": ["usage_by_model", "daily_costs"],
                "examples": [{"model": "a"}, {"model": "b"}, {"model": "c"}],
            },
        },
        format="json",
    ).json()
    assert (medium["complexity"], medium["strategy"]) == ("medium", "focused_examples")
    assert (
        '{"model":"a"}' in medium["chunks"][0]["text"] and '{"model":"c"}' not in medium["chunks"][0]["text"]
    )


def test_data_request_compresses_when_over_budget(api):
    body = api.post(
        "/api/v1/optimize/data-request",
        {
            "model": MODEL,
            "token_budget": 20,
            "user_request": "Please could you basically show me the very detailed daily costs for the team?",
            "triage_result": {"data_needed": ["daily_costs"]},
        },
        format="json",
    ).json()
    assert any(t.startswith("compression:") for t in body["techniques"])


MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]


def test_cache_store_then_lookup_hits_with_keys_in_any_order(api, user):
    store = api.post(
        "/api/v1/cache/store",
        {
            "model": MODEL,
            "messages": MSGS,
            "params": {"temperature": 0},
            "response": {"content": "4"},
            "output_tokens": 5,
        },
        format="json",
    )
    assert store.status_code == 201
    reordered = [{"content": m["content"], "role": m["role"]} for m in MSGS]
    hit = api.post(
        "/api/v1/cache/lookup",
        {"temperature": 0, "messages": reordered, "model": MODEL, "metadata": {"trace": "x"}},
        format="json",
    ).json()
    assert hit["hit"] is True and hit["response"] == {"content": "4"} and hit["key"] == store.json()["key"]
    input_tokens = count_messages(MSGS, MODEL).tokens
    assert hit["tokens_saved"] == input_tokens + 5
    price = _price()
    usd = (input_tokens * price.input_per_million + 5 * price.output_per_million) / Decimal(1_000_000)
    assert Decimal(hit["usd_saved"]) == usd
    miss = api.post(
        "/api/v1/cache/lookup",
        {"model": MODEL, "messages": MSGS, "params": {"temperature": 1}},
        format="json",
    ).json()
    assert miss["hit"] is False
    stats = api.get("/api/v1/cache/stats").json()
    assert stats["user"] == {
        "hits": 1,
        "misses": 1,
        "hit_rate": 0.5,
        "tokens_saved": input_tokens + 5,
        "usd_saved": format(usd.normalize(), "f"),
        "entries": 1,
    }
    assert "overall" not in stats
    rec = SavingsRecord.objects.get(user=user, source="cache")
    assert (rec.original_tokens, rec.optimized_tokens, rec.usd_saved) == (input_tokens + 5, 0, usd)


@pytest.mark.parametrize(
    ("url", "raw", "field"),
    [
        ("/api/v1/cache/store",
         '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "response": {"content": "4"}, '
         '"output_tokens": 1e30}', "output_tokens"),
        ("/api/v1/cache/store",
         '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "response": {"content": "4"}, '
         '"output_tokens": 9223372036854775808}', "output_tokens"),
        ("/api/v1/optimize/context",
         '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_response_tokens": 1e30}',
         "max_response_tokens"),
        ("/api/v1/optimize/data-request", '{"model": "gpt-4o", "user_request": "x", "token_budget": 1e30}',
         "token_budget"),
        ("/api/v1/optimize/chunks",
         '{"model": "gpt-4o", "text": "x", "max_tokens_per_chunk": 10, "overlap_tokens": 1e30}', "overlap_tokens"),
    ],
)
def test_token_counts_past_the_limit_are_a_400(api, url, raw, field):
    response = api.post(url, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": f"Invalid input: {field}.", "fields": {field: ["At most 1,000,000,000 tokens."]},
    }
    assert ResponseCacheEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/optimize/prompt", {"model": "gpt-4o", "prompt": 123}, "prompt"),
        ("/api/v1/budgets/check", {"agent": "a", "model": "gpt-4o", "prompt": 123}, "prompt"),
        ("/api/v1/tokens/count", {"model": "gpt-4o", "text": 123}, "text"),
        ("/api/v1/tokens/count", {"model": "gpt-4o", "text": 1.5}, "text"),
        ("/api/v1/optimize/chunks", {"model": "gpt-4o", "text": 123, "max_tokens_per_chunk": 5}, "text"),
        ("/api/v1/optimize/data-request", {"model": "gpt-4o", "user_request": 7, "token_budget": 100},
         "user_request"),
    ],
)
def test_text_fields_require_a_string(api, url, body, field):
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": f"Invalid input: {field}.", "fields": {field: ["Not a valid string."]},
    }
    assert SavingsRecord.objects.count() == 0


def test_cache_entries_are_private_unless_shared_by_a_service_key(api, other_api, service_api):
    api.post("/api/v1/cache/store", {"model": MODEL, "messages": MSGS, "response": "4"}, format="json")
    assert (
        other_api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": MSGS}, format="json").json()[
            "hit"
        ]
        is False
    )
    denied = other_api.post(
        "/api/v1/cache/store",
        {"model": MODEL, "messages": MSGS, "response": "4", "shared": True},
        format="json",
    )
    assert denied.status_code == 403
    shared = service_api.post(
        "/api/v1/cache/store",
        {"model": MODEL, "messages": MSGS, "response": "four", "shared": True},
        format="json",
    )
    assert shared.status_code == 201
    hit = other_api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": MSGS}, format="json").json()
    assert hit["hit"] is True and hit["shared"] is True and hit["response"] == "four"
    # a private entry wins over a shared one
    mine = api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": MSGS}, format="json").json()
    assert mine["response"] == "4" and mine["shared"] is False
    overall = service_api.get("/api/v1/cache/stats").json()["overall"]
    assert (overall["hits"], overall["misses"]) == (2, 1)


def test_cache_ttl_expires(api, monkeypatch):
    import time
    from datetime import timedelta

    from django.utils import timezone


    timeouts = []
    real_set = response_cache.cache.set
    monkeypatch.setattr(
        response_cache.cache, "set", lambda k, v, timeout: (timeouts.append(timeout), real_set(k, v, timeout))
    )
    default = api.post(
        "/api/v1/cache/store", {"model": MODEL, "messages": MSGS[:1], "response": "4"}, format="json"
    ).json()
    assert default["expires_at"] > (timezone.now() + timedelta(seconds=3590)).isoformat()
    api.post(
        "/api/v1/cache/store",
        {"model": MODEL, "messages": MSGS, "response": "4", "ttl_seconds": 1},
        format="json",
    )
    assert timeouts == [3600, 1]
    assert api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": MSGS}, format="json").json()["hit"]
    time.sleep(1.2)  # real expiry in the cache backend (locmem or Redis), not a timing assertion
    after = api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": MSGS}, format="json").json()
    assert after["hit"] is False
    # the next store sweeps the expired index row
    api.post("/api/v1/cache/store", {"model": MODEL, "messages": MSGS[1:], "response": "x"}, format="json")
    assert ResponseCacheEntry.objects.count() == 2


@override_settings(NETRA_RESPONSE_CACHE_MAX_ENTRIES=2)
def test_cache_evicts_least_recently_used(api):
    def msgs(n):
        return [{"role": "user", "content": f"question {n}"}]

    for n in (1, 2):
        api.post("/api/v1/cache/store", {"model": MODEL, "messages": msgs(n), "response": n}, format="json")
    assert api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": msgs(1)}, format="json").json()[
        "hit"
    ]
    third = api.post(
        "/api/v1/cache/store", {"model": MODEL, "messages": msgs(3), "response": 3}, format="json"
    )
    assert third.json()["evicted"] == 1
    hits = [
        api.post("/api/v1/cache/lookup", {"model": MODEL, "messages": msgs(n)}, format="json").json()["hit"]
        for n in (1, 2, 3)
    ]
    assert hits == [True, False, True]
    assert ResponseCacheEntry.objects.count() == 2


@pytest.mark.django_db
def test_shipped_templates_exist_with_token_counts_and_savings():
    triage = PromptTemplate.objects.get(name="triage", version=1)
    assert triage.variables == ["user_request"]
    assert triage.token_count == count_text(triage.body, "gpt-4o").tokens
    assert triage.baseline_token_count == count_text(triage.baseline_body, "gpt-4o").tokens
    assert triage.savings_percent > 50
    assert PromptTemplate.objects.get(name="data_request").variables == [
        "user_request",
        "triage_result",
        "previous_results",
    ]


def test_template_select_with_fallback(api):
    exact = api.get("/api/v1/templates/select", {"agent_type": "triage", "richness": "low"}).json()
    assert (exact["name"], exact["matched"], exact["fallback"]) == ("triage", "exact", False)
    near = api.get("/api/v1/templates/select", {"agent_type": "triage", "richness": "high"}).json()
    assert (near["name"], near["matched"], near["fallback"]) == ("triage", "agent_type", True)
    PromptTemplate.objects.create(name="generic", agent_type="general", body="Help: {{q}}")
    general = api.get("/api/v1/templates/select", {"agent_type": "planner"}).json()
    assert (general["name"], general["matched"]) == ("generic", "general")
    assert api.get("/api/v1/templates/select").status_code == 400


def test_template_render_and_missing_variable(api, user):
    res = api.post(
        "/api/v1/templates/triage/render",
        {"variables": {"user_request": "Cut my GPT-4o bill"}},
        format="json",
    )
    assert res.status_code == 200
    body = res.json()
    assert body["rendered"].endswith("Request: Cut my GPT-4o bill")
    assert body["tokens"] == count_text(body["rendered"], "gpt-4o").tokens
    assert body["tokens_saved"] == body["baseline_tokens"] - body["tokens"] > 0
    assert SavingsRecord.objects.get(user=user).source == "template"
    missing = api.post(
        "/api/v1/templates/data_request/render", {"variables": {"user_request": "x"}}, format="json"
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "missing_variable"
    assert missing.json()["error"]["fields"] == {
        "variables": {
            "triage_result": ["This variable is required."],
            "previous_results": ["This variable is required."],
        }
    }
    assert api.post("/api/v1/templates/nope/render", {}, format="json").status_code == 404


def test_data_request_records_saving_against_the_unoptimized_plan(api, user):
    payload = {
        "model": MODEL,
        "token_budget": 400,
        "user_request": "Show spend by model for last week.",
        "triage_result": {"data_needed": ["usage_by_model", "daily_costs"]},
        "previous_results": {"daily_costs": []},
    }
    body = api.post("/api/v1/optimize/data-request", payload, format="json").json()
    assert body["omitted"] == ["daily_costs"] and body["estimated_tokens"] < body["baseline_tokens"]
    rec = SavingsRecord.objects.get(user=user)
    assert (rec.technique, rec.original_tokens, rec.optimized_tokens) == (
        "data_request",
        body["baseline_tokens"],
        body["estimated_tokens"],
    )
    api.put("/api/v1/optimize/preferences", {"optimization_enabled": False}, format="json")
    off = api.post("/api/v1/optimize/data-request", payload, format="json").json()
    assert off["omitted"] == [] and off["techniques"] == [] and off["optimization_enabled"] is False
    assert "daily_costs" in off["chunks"][0]["text"]
    assert off["estimated_tokens"] == off["baseline_tokens"]
    assert SavingsRecord.objects.filter(user=user).count() == 1


@override_settings(NETRA_RESPONSE_CACHE_MAX_BYTES=500)
def test_cache_rejects_an_entry_larger_than_the_whole_cache(api):
    res = api.post(
        "/api/v1/cache/store", {"model": MODEL, "messages": MSGS, "response": "x" * 600}, format="json"
    )
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "entry_too_large"
    assert ResponseCacheEntry.objects.count() == 0
