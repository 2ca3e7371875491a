"""POST/GET /api/v1/usage: shapes, idempotency, batches, bad input, auth, isolation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tokens.models import ApiKey, Run, UsageRecord
from tokens.services import api_key_revoke

CHAT = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def record(request_id: str, **extra) -> dict:
    return {"request_id": request_id, "model": "gpt-4o", "usage": dict(CHAT), **extra}


def test_single_record_created_with_defaults(api):
    response = api.post("/api/v1/usage", record("r1"), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["request_id"] == "r1"
    assert body["agent"] == "default"
    assert body["user"] == "alice"
    assert body["duplicate"] is False
    # gpt-4o: 100*2.5 + 20*10 = 450 micro-dollars
    assert body["cost_usd"] == "0.00045"
    assert body["tokens"]["total"] == 120
    assert UsageRecord.objects.count() == 1


def test_same_request_id_returns_original_record_once(api):
    first = api.post("/api/v1/usage", record("dup", agent="triage"), format="json").json()
    again = api.post("/api/v1/usage", record("dup", agent="other", usage={"prompt_tokens": 9}), format="json")
    assert again.status_code == 200
    body = again.json()
    assert body["duplicate"] is True
    assert body["id"] == first["id"]
    assert body["agent"] == "triage"
    assert body["tokens"] == first["tokens"]
    assert UsageRecord.objects.count() == 1


def test_request_ids_are_unique_per_user_not_globally(api, other_api):
    assert api.post("/api/v1/usage", record("shared-id"), format="json").status_code == 201
    assert other_api.post("/api/v1/usage", record("shared-id"), format="json").status_code == 201
    assert UsageRecord.objects.count() == 2


def test_batch_stores_valid_records_and_reports_each(api):
    records = [
        record("b1", agent="data", run_id="run-1", tool="sql"),
        {"request_id": "b2", "model": "gpt-4o", "usage": {"prompt_tokens": -5, "completion_tokens": 1}},
        record("b3", run_id="run-1"),
        record("b1"),
        {"model": "gpt-4o", "usage": CHAT},
    ]
    response = api.post("/api/v1/usage", {"records": records}, format="json")
    assert response.status_code == 207
    body = response.json()
    assert body["counts"] == {"created": 2, "duplicate": 1, "invalid": 2}
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "created"), (1, "invalid"), (2, "created"), (3, "duplicate"), (4, "invalid")]
    assert body["results"][1]["errors"] == {"usage.prompt_tokens": ["Must be a non-negative integer."]}
    assert body["results"][4]["errors"] == {"request_id": ["This field is required."]}
    assert body["results"][3]["record"]["id"] == body["results"][0]["record"]["id"]
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == ["b1", "b3"]
    assert Run.objects.filter(run_id="run-1").count() == 1


def test_batch_with_earlier_duplicates_marks_them(api):
    api.post("/api/v1/usage", record("x1"), format="json")
    body = api.post("/api/v1/usage", {"records": [record("x1"), record("x2")]}, format="json").json()
    assert body["counts"] == {"created": 1, "duplicate": 1, "invalid": 0}


def test_batch_limits(api):
    too_many = [record(f"m{i}") for i in range(1001)]
    response = api.post("/api/v1/usage", {"records": too_many}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"records": ["At most 1000 records."]}
    assert api.post("/api/v1/usage", {"records": []}, format="json").status_code == 400
    assert api.post("/api/v1/usage", {"records": "nope"}, format="json").status_code == 400
    assert UsageRecord.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"model": "gpt-4o", "usage": CHAT}, "request_id", "This field is required."),
        ({"request_id": "a", "usage": CHAT}, "model", "This field is required."),
        ({"request_id": "a", "model": "gpt-4o"}, "usage",
         "Provide the provider's usage object, prompt_tokens and completion_tokens, or billed units."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {"prompt_tokens": -1, "completion_tokens": 2}},
         "usage.prompt_tokens", "Must be a non-negative integer."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {"prompt_tokens": 1.5, "completion_tokens": 2}},
         "usage.prompt_tokens", "Must be a non-negative integer."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {"prompt_tokens": "10", "completion_tokens": 2}},
         "usage.prompt_tokens", "Must be a non-negative integer."),
        ({"request_id": "a", "model": "gpt-4o", "prompt_tokens": True, "completion_tokens": 2},
         "prompt_tokens", "Must be a non-negative integer."),
        ({"request_id": "a", "model": "gpt-4o", "usage": "lots"}, "usage", "Must be the provider's usage object."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "occurred_at": "yesterday"},
         "occurred_at", "Must be an ISO 8601 timestamp."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "metadata": {"blob": "x" * 9000}},
         "metadata", "At most 8 KB of JSON."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "metadata": [1]}, "metadata", "Must be an object."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "cache_hit": "yes"}, "cache_hit",
         "Must be true or false."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "reservation_id": "r-1"}, "reservation_id",
         "Must be a reservation id (UUID)."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "latency_ms": -3}, "latency_ms",
         "Must be a non-negative integer."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 1,
                                                          "prompt_tokens_details": {"cached_tokens": 11}}},
         "usage.prompt_tokens_details.cached_tokens",
         "cached_tokens plus cache_write_tokens cannot exceed prompt_tokens (OpenAI counts them inside it)."),
        ({"request_id": "a" * 201, "model": "gpt-4o", "usage": CHAT}, "request_id", "At most 200 characters."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {}}, "usage",
         "At least one token count is required (input_tokens, output_tokens)."),
        ({"request_id": "a", "model": "claude-3-opus", "usage": {}}, "usage",
         "At least one token count is required "
         "(input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens)."),
        ({"request_id": "a", "model": "gpt-4o", "usage": {"prompt_tokens": None, "total_tokens": 5}}, "usage",
         "At least one token count is required (prompt_tokens, completion_tokens)."),
        ({"request_id": "a", "model": "gpt-4o", "prompt_tokens": None}, "prompt_tokens",
         "At least one token count is required (prompt_tokens, completion_tokens)."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "occurred_at": "1900-01-01"}, "occurred_at",
         "Cannot be before 2020-01-01."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "occurred_at": "2019-12-31T23:59:59Z"},
         "occurred_at", "Cannot be before 2020-01-01."),
        # Once a 500: converting it to UTC overflows.
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "occurred_at": "0001-01-01T00:00:00+05:00"},
         "occurred_at", "Cannot be before 2020-01-01."),
        ({"request_id": "a", "model": "gpt-4o", "usage": CHAT, "occurred_at": "9999-12-31T23:59:59-05:00"},
         "occurred_at", "Cannot be more than 5 minutes in the future."),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, payload, field, message):
    response = api.post("/api/v1/usage", payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {field: [message]}
    assert UsageRecord.objects.count() == 0


TOO_MANY = "At most 1,000,000,000 tokens."


@pytest.mark.parametrize(
    ("usage", "errors"),
    [
        ({"prompt_tokens": 10**30, "completion_tokens": 1}, {"usage.prompt_tokens": [TOO_MANY]}),
        ({"prompt_tokens": 2**63, "completion_tokens": 1}, {"usage.prompt_tokens": [TOO_MANY]}),
        ({"prompt_tokens": 2**62, "completion_tokens": 2**62},
         {"usage.prompt_tokens": [TOO_MANY], "usage.completion_tokens": [TOO_MANY]}),
        ({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 1_000_000_001}},
         {"usage.prompt_tokens_details.cached_tokens": [TOO_MANY]}),
        # The breakdown is not also reported as exceeding a total that was itself rejected.
        ({"prompt_tokens": 1_000_000_001, "prompt_tokens_details": {"cached_tokens": 5}},
         {"usage.prompt_tokens": [TOO_MANY]}),
        ({"input_tokens": 1, "cache_read_input_tokens": 1_000_000_001},
         {"usage.cache_read_input_tokens": [TOO_MANY]}),
        ({"input_tokens": 1, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 10**20}},
         {"usage.output_tokens_details.reasoning_tokens": [TOO_MANY]}),
    ],
)
def test_token_counts_past_the_limit_are_a_400_naming_the_field(api, usage, errors):
    response = api.post("/api/v1/usage", {"request_id": "huge", "model": "gpt-4o", "usage": usage}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": f"Invalid usage record: {', '.join(errors)}.", "fields": errors,
    }
    assert UsageRecord.objects.count() == 0


def test_huge_numbers_elsewhere_in_a_record_are_a_400(api):
    raw = '{"request_id": "f", "model": "gpt-4o", "usage": {"prompt_tokens": 1e30, "completion_tokens": 1}}'
    response = api.post("/api/v1/usage", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"usage.prompt_tokens": ["Must be a non-negative integer."]}
    optimized = record("o", optimization={"technique": "compress", "original_tokens": 10**30})
    response = api.post("/api/v1/usage", optimized, format="json")
    assert response.json()["error"]["fields"] == {"optimization.original_tokens": [TOO_MANY]}
    response = api.post("/api/v1/usage", record("l", latency_ms=2**31), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"latency_ms": ["At most 2,147,483,647 ms."]}
    assert UsageRecord.objects.count() == 0


def test_a_batch_with_huge_numbers_stores_the_valid_records(api):
    records = [
        record("ok-1"),
        {"request_id": "big-1", "model": "gpt-4o", "usage": {"prompt_tokens": 10**30, "completion_tokens": 1}},
        {"request_id": "big-2", "model": "gpt-4o", "usage": {"prompt_tokens": 2**62, "completion_tokens": 2**62}},
        record("ok-2", latency_ms=2**40),
        record("ok-3"),
    ]
    response = api.post("/api/v1/usage", {"records": records}, format="json")
    assert response.status_code == 207
    body = response.json()
    assert body["counts"] == {"created": 2, "duplicate": 0, "invalid": 3}
    assert [r["status"] for r in body["results"]] == ["created", "invalid", "invalid", "invalid", "created"]
    assert body["results"][1]["errors"] == {"usage.prompt_tokens": [TOO_MANY]}
    assert body["results"][2]["errors"] == {"usage.prompt_tokens": [TOO_MANY], "usage.completion_tokens": [TOO_MANY]}
    assert body["results"][3]["errors"] == {"latency_ms": ["At most 2,147,483,647 ms."]}
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == ["ok-1", "ok-3"]


def test_the_largest_accepted_record_is_stored_and_priced_exactly(api):
    """Every class at the limit, at the dearest rates in the shipped catalog (its long-context tier)."""
    limit = 1_000_000_000
    response = api.post("/api/v1/usage", {
        "request_id": "max", "model": "gpt-6-rosalind", "usage_format": "anthropic",
        "usage": {"input_tokens": limit, "cache_read_input_tokens": limit, "cache_creation_input_tokens": limit,
                  "output_tokens": limit},
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["tokens"]["total"] == 4 * limit
    # Above 272k prompt tokens, per 1M: input $30, cache read $3, cache write $37.5, output $112.5.
    assert body["cost_usd"] == "183000"
    stored = UsageRecord.objects.get(request_id="max")
    assert (stored.total_tokens, stored.cost_usd) == (4 * limit, Decimal("183000"))


def test_future_timestamps_beyond_five_minutes_are_rejected(api):
    soon = (timezone.now() + timedelta(minutes=4)).isoformat()
    late = (timezone.now() + timedelta(minutes=6)).isoformat()
    assert api.post("/api/v1/usage", record("soon", occurred_at=soon), format="json").status_code == 201
    response = api.post("/api/v1/usage", record("late", occurred_at=late), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"occurred_at": ["Cannot be more than 5 minutes in the future."]}


def test_explicit_zero_counts_and_the_earliest_timestamp_are_accepted(api):
    zeros = api.post("/api/v1/usage", record("z", usage={"prompt_tokens": 0, "completion_tokens": 0}), format="json")
    assert zeros.status_code == 201
    assert (zeros.json()["tokens"]["total"], zeros.json()["cost_usd"]) == (0, "0")
    anthropic = {"request_id": "za", "model": "claude-3-opus", "usage": {"output_tokens": 0}}
    assert api.post("/api/v1/usage", anthropic, format="json").status_code == 201
    earliest = api.post("/api/v1/usage", record("e", occurred_at="2020-01-01T00:00:00Z"), format="json")
    assert earliest.status_code == 201
    assert (earliest.json()["occurred_at"], earliest.json()["priced"]) == ("2020-01-01T00:00:00+00:00", True)


def test_naive_timestamps_are_utc(api):
    body = api.post("/api/v1/usage", record("n", occurred_at="2026-01-02T03:04:05"), format="json").json()
    assert body["occurred_at"] == "2026-01-02T03:04:05+00:00"


def test_malformed_json_is_a_json_400(api):
    response = api.post("/api/v1/usage", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("url", ["/api/v1/usage", "/api/v1/budgets/check", "/api/v1/cache/store"])
def test_deeply_nested_json_is_a_malformed_json_400(api, url):
    response = api.post(url, "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_json", "message": "JSON parse error - nested more than 128 levels deep.", "fields": {},
    }


def test_json_nested_up_to_128_levels_is_accepted(api):
    # The body is level 1 and metadata level 2: 127 levels of metadata nest the body 128 deep.
    deepest = api.post("/api/v1/usage", record("deep", metadata=nested(127)), format="json")
    assert deepest.status_code == 201
    assert deepest.json()["metadata"] == nested(127)
    too_deep = api.post("/api/v1/usage", record("deeper", metadata=nested(128)), format="json")
    assert (too_deep.status_code, too_deep.json()["error"]["code"]) == (400, "malformed_json")
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["deep"]


def test_body_must_be_an_object(api):
    response = api.post("/api/v1/usage", [record("a")], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"body": ["Expected a JSON object."]}


def test_oversized_body_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/usage", record("big", metadata={"note": "x" * 2000}), format="json")
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "body_too_large", "message": (
        "The request body is larger than the server accepts."), "fields": {"body": ["At most 1,000 bytes."]}}
    assert UsageRecord.objects.count() == 0


def test_missing_or_bad_key_is_401(db, catalog):
    anonymous = APIClient()
    response = anonymous.post("/api/v1/usage", record("a"), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer ntk_wrong")
    assert bad.post("/api/v1/usage", record("a"), format="json").status_code == 401
    basic = APIClient()
    basic.credentials(HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
    assert basic.get("/api/v1/usage").status_code == 401


def test_revoked_key_is_401(api, user):

    api_key_revoke(key=ApiKey.objects.get(user=user))
    assert api.post("/api/v1/usage", record("a"), format="json").status_code == 401


def test_service_key_acts_for_a_named_user(service_api, user):
    response = service_api.post("/api/v1/usage", record("svc-1", user="alice"), format="json")
    assert response.status_code == 201
    assert response.json()["user"] == "alice"
    assert UsageRecord.objects.get(request_id="svc-1").user == user


def test_service_key_unknown_user_is_400(service_api):
    response = service_api.post("/api/v1/usage", record("svc-2", user="nobody"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"user": ["Unknown user 'nobody'."]}


def test_user_key_cannot_act_for_someone_else(api, other_user):
    response = api.post("/api/v1/usage", record("sneak", user="bob"), format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "message": "Only a service key may act for another user.",
        "fields": {"user": ["Only a service key may act for another user."]},
    }
    assert UsageRecord.objects.count() == 0
    # naming yourself is fine
    assert api.post("/api/v1/usage", record("me", user="alice"), format="json").status_code == 201


def test_service_key_batch_for_several_users(service_api, user, other_user):
    body = service_api.post(
        "/api/v1/usage",
        {"records": [record("s1", user="alice"), record("s1", user="bob"), record("s2", user="ghost")]},
        format="json",
    ).json()
    assert body["counts"] == {"created": 2, "duplicate": 0, "invalid": 1}
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert UsageRecord.objects.filter(user=other_user).count() == 1


def test_users_see_only_their_own_records(api, other_api):
    api.post("/api/v1/usage", record("mine"), format="json")
    other_api.post("/api/v1/usage", record("theirs"), format="json")
    mine = api.get("/api/v1/usage").json()["results"]
    assert [r["request_id"] for r in mine] == ["mine"]
    assert other_api.get("/api/v1/usage?user=alice").status_code == 403
    assert api.get("/api/v1/runs/none").status_code == 404


def test_list_filters_and_cursor_pagination(api):
    now = timezone.now()
    records = [
        record(f"p{i}", agent="a" if i % 2 else "b", occurred_at=(now - timedelta(minutes=i)).isoformat())
        for i in range(5)
    ]
    api.post("/api/v1/usage", {"records": records}, format="json")
    page1 = api.get("/api/v1/usage?page_size=2").json()
    assert [r["request_id"] for r in page1["results"]] == ["p0", "p1"]
    page2 = api.get(page1["next"]).json()
    assert [r["request_id"] for r in page2["results"]] == ["p2", "p3"]
    only_a = api.get("/api/v1/usage?agent=a").json()["results"]
    assert [r["request_id"] for r in only_a] == ["p1", "p3"]
    since = (now - timedelta(minutes=2, seconds=30)).isoformat().replace("+00:00", "Z")
    recent = api.get("/api/v1/usage", {"from": since}).json()["results"]
    assert [r["request_id"] for r in recent] == ["p0", "p1", "p2"]
    assert api.get("/api/v1/usage?from=notadate").status_code == 400


def test_service_key_reads_a_named_users_records(service_api, api):
    api.post("/api/v1/usage", record("r"), format="json")
    body = service_api.get("/api/v1/usage?user=alice").json()
    assert [r["request_id"] for r in body["results"]] == ["r"]


def test_summary_groups(api):
    api.post("/api/v1/usage", {"records": [
        record("s1", agent="triage", tool="classify"),
        record("s2", agent="triage"),
        {"request_id": "s3", "model": "gpt-4", "agent": "data", "prompt_tokens": 1000, "completion_tokens": 0},
    ]}, format="json")
    body = api.get("/api/v1/usage/summary?group_by=agent").json()
    assert body["totals"]["requests"] == 3
    # 2 x 0.00045 + 1000 * $30/1M = 0.0309
    assert body["totals"]["cost_usd"] == "0.0309"
    groups = {g["key"]: (g["requests"], g["cost_usd"]) for g in body["groups"]}
    assert groups == {"triage": (2, "0.0009"), "data": (1, "0.03")}
    by_model = api.get("/api/v1/usage/summary?group_by=model").json()
    assert [g["key"] for g in by_model["groups"]] == ["gpt-4", "gpt-4o"]
    by_day = api.get("/api/v1/usage/summary?group_by=day").json()
    assert by_day["groups"][0]["key"] == timezone.now().date().isoformat()
    bad = api.get("/api/v1/usage/summary?group_by=planet")
    assert bad.status_code == 400
    assert "group_by" in bad.json()["error"]["fields"]


def test_run_metrics_are_exact_sums_of_its_records(api):
    api.post("/api/v1/usage", {"records": [
        {"request_id": "1", "model": "gpt-4o", "agent": "triage", "tool": "classify", "run_id": "R",
         "usage": {"prompt_tokens": 100, "completion_tokens": 10}},
        {"request_id": "2", "model": "gpt-4o", "agent": "data", "tool": "sql", "run_id": "R",
         "usage": {"prompt_tokens": 300, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 200}}},
        {"request_id": "3", "model": "gpt-4o", "agent": "data", "run_id": "other",
         "usage": {"prompt_tokens": 5, "completion_tokens": 5}},
    ]}, format="json")
    body = api.get("/api/v1/runs/R").json()
    assert body["run_id"] == "R"
    assert body["totals"]["prompt_tokens"] == 400
    assert body["totals"]["completion_tokens"] == 40
    assert body["totals"]["total_tokens"] == 440
    # 1: 100*2.5+10*10 = 350; 2: 100*2.5 + 200*1.25 + 30*10 = 800 -> 1150 micro-dollars
    assert body["totals"]["cost_usd"] == "0.00115"
    assert body["by_agent"]["triage"]["total_tokens"] == 110
    assert body["by_agent"]["data"]["cost_usd"] == "0.0008"
    assert set(body["by_tool"]) == {"classify", "sql"}


def test_models_endpoint_lists_the_catalog(api):
    body = api.get("/api/v1/models?provider=anthropic").json()
    names = {m["name"]: m for m in body["models"]}
    assert names["claude-3-opus"]["input_per_million"] == "15"
    assert names["claude-3-opus"]["cache_write_per_million"] == "18.75"
    assert names["claude-3-opus"]["context_window"] == 200000
    assert all(m["provider"] == "anthropic" for m in body["models"])


def test_schema_and_docs_are_served(api, client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
