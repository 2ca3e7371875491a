"""One pass over every v1 operation: the requests a real client makes, and each answer.

The schema tests validate every answer against the documented response of its
operation and status, so a view whose JSON drifts from its OutputSerializer
(or an operation nobody documented) fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import Alert
from optimization.models import PromptTemplate
from tokens.services import api_key_create

MODEL = "gpt-4o"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
RESERVATION_PATH = "/api/v1/budgets/reservations/{reservation_id}"


@dataclass
class Exchange:
    """One request and its answer, with the path template it matched in the schema."""

    method: str
    path: str  # as in the schema: /api/v1/runs/{run_id}
    status: int
    content_type: str
    body: Any


class Recorder:
    """Makes requests with one client and keeps every answer as an Exchange."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def __call__(self, client: APIClient, method: str, url: str, data: Any = None, *, path: str | None = None,
                 expect: int = 200) -> Any:
        call = getattr(client, method.lower())
        response = call(url, data, format="json") if method != "GET" else call(url, data)
        assert response.status_code == expect, (method, url, response.status_code, response.content[:500])
        content_type = response["Content-Type"].split(";")[0]
        body = response.json() if content_type == "application/json" else response.content.decode()
        template = path or url.split("?")[0]
        self.exchanges.append(Exchange(method, template, response.status_code, content_type, body))
        return body


def client_for(user, *, service: bool = False) -> APIClient:
    _, raw = api_key_create(user=user, name="scenario", is_service=service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def run(*, alice, bob, staff, service) -> list[Exchange]:
    """Every operation at least once, each status it documents that a client can provoke."""
    call = Recorder()
    api, other, root, svc = client_for(alice), client_for(bob), client_for(staff), client_for(service, service=True)
    anonymous = APIClient()
    an_hour_ago = (timezone.now() - timedelta(hours=1)).astimezone(UTC).isoformat()

    # Budgets first, so usage is charged against them and checks have figures.
    budget = call(root, "POST", "/api/v1/budgets",
                  {"user": "alice", "limit_tokens": 1_000_000, "limit_usd": "25", "period": "month"}, expect=201)
    call(root, "POST", "/api/v1/budgets",
         {"scope": "user_agent", "user": "alice", "agent": "writer", "limit_usd": "0.0001", "period": "day"},
         expect=201)
    call(api, "POST", "/api/v1/budgets", {"user": "alice", "limit_tokens": 5}, expect=403)
    call(root, "POST", "/api/v1/budgets", {"user": "alice"}, expect=400)
    detail = f"/api/v1/budgets/{budget['id']}"
    call(root, "PATCH", detail, {"limit_tokens": 2_000_000}, path="/api/v1/budgets/{budget_id}")
    call(api, "GET", detail, path="/api/v1/budgets/{budget_id}")
    call(other, "GET", detail, path="/api/v1/budgets/{budget_id}", expect=404)

    check = call(api, "POST", "/api/v1/budgets/check",
                 {"agent": "triage", "model": MODEL, "prompt": "Hello there", "max_output_tokens": 50,
                  "reserve": True})
    call(api, "POST", "/api/v1/budgets/check",
         {"agent": "writer", "model": MODEL, "estimated_input_tokens": 100_000, "max_output_tokens": 500})
    call(api, "POST", "/api/v1/budgets/check", {"agent": "triage", "model": "no-such-model",
                                                "estimated_input_tokens": 10})
    call(api, "POST", "/api/v1/budgets/check", {"agent": "triage", "model": MODEL}, expect=400)
    reservation = f"/api/v1/budgets/reservations/{check['reservation']['id']}"
    call(api, "GET", reservation, path=RESERVATION_PATH)
    call(other, "GET", reservation, path=RESERVATION_PATH, expect=404)
    call(api, "POST", f"{reservation}/release", {}, path=f"{RESERVATION_PATH}/release")
    call(api, "POST", f"{reservation}/commit", {}, path=f"{RESERVATION_PATH}/commit", expect=409)
    held = call(api, "POST", "/api/v1/budgets/check",
                {"agent": "triage", "model": MODEL, "messages": MESSAGES, "reserve": True})
    call(api, "POST", f"/api/v1/budgets/reservations/{held['reservation']['id']}/commit", {},
         path=f"{RESERVATION_PATH}/commit")

    # Usage: one record (created, then its duplicate), a batch, the ledger and its summaries.
    record = {
        "request_id": "req-1", "model": MODEL, "agent": "triage", "tool": "search", "run_id": "run-1",
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300,
                  "prompt_tokens_details": {"cached_tokens": 200},
                  "completion_tokens_details": {"reasoning_tokens": 100}},
        "occurred_at": an_hour_ago, "optimization": {"technique": "compression", "original_tokens": 1500},
        "cache_hit": False, "latency_ms": 850, "metadata": {"trace": "t-1"},
    }
    call(api, "POST", "/api/v1/usage", record, expect=201)
    call(api, "POST", "/api/v1/usage", record, expect=200)
    call(api, "POST", "/api/v1/usage", {
        "records": [
            {"request_id": "req-2", "model": "claude-sonnet-4-5", "agent": "writer", "run_id": "run-1",
             "usage": {"input_tokens": 40, "cache_read_input_tokens": 1000, "output_tokens": 70}},
            {"request_id": "req-3", "model": "no-such-model", "prompt_tokens": 10, "completion_tokens": 2},
            record,
            {"request_id": "req-4", "model": MODEL, "usage": {"prompt_tokens": -1}},
            # Provider-reported cost (OpenRouter), a service tier, billed units, the newer token classes.
            {"request_id": "req-8", "model": "anthropic/claude-sonnet-4-5", "agent": "writer",
             "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "cost": 0.0051}},
            {"request_id": "req-9", "model": "gemini-2.5-flash", "service_tier": "batch",
             "usage": {"prompt_token_count": 100, "candidates_token_count": 20, "thoughts_token_count": 5,
                       "prompt_tokens_details": [{"modality": "AUDIO", "token_count": 40}]}},
            {"request_id": "req-10", "model": "whisper-1", "usage": {"type": "duration", "seconds": 12.5},
             "provider_cost_usd": "0.00125"},
            {"request_id": "req-11", "model": "claude-sonnet-4-5",
             "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation": {"ephemeral_1h_input_tokens": 100},
                       "server_tool_use": {"web_search_requests": 2}}},
        ]
    }, expect=207)
    call(api, "POST", "/api/v1/usage", {"request_id": "req-5", "model": MODEL}, expect=400)
    call(api, "POST", "/api/v1/usage", {"request_id": "req-6", "model": MODEL, "user": "bob",
                                        "prompt_tokens": 1, "completion_tokens": 1}, expect=403)
    call(anonymous, "POST", "/api/v1/usage", record, expect=401)
    call(svc, "POST", "/api/v1/usage", {"request_id": "req-7", "model": MODEL, "user": "bob", "agent": "writer",
                                        "prompt_tokens": 5, "completion_tokens": 5}, expect=201)
    call(api, "GET", "/api/v1/usage?page_size=2")
    call(api, "GET", "/api/v1/usage?agent=triage&from=2020-01-01")
    call(api, "GET", "/api/v1/usage?from=yesterday", expect=400)
    call(api, "GET", "/api/v1/usage/summary")
    call(api, "GET", "/api/v1/usage/summary?group_by=day")
    call(api, "GET", "/api/v1/usage/summary?group_by=planet", expect=400)
    call(api, "GET", "/api/v1/runs/run-1", path="/api/v1/runs/{run_id}")
    call(api, "GET", "/api/v1/runs/run-404", path="/api/v1/runs/{run_id}", expect=404)
    call(api, "GET", "/api/v1/budgets")
    call(api, "GET", "/api/v1/models?provider=anthropic")
    call(api, "GET", "/api/v1/models")  # every rate of every mode: per-second, per-image, other keys
    call(api, "POST", "/api/v1/tokens/count", {"model": MODEL, "text": "Hello, world"})
    call(api, "POST", "/api/v1/tokens/count", {"model": "claude-sonnet-4-5", "messages": MESSAGES})

    # Token-saving services.
    call(api, "POST", "/api/v1/optimize/prompt",
         {"model": MODEL, "prompt": "Please could you summarize the following report in JSON format?",
          "target_reduction": 0.2})
    call(api, "POST", "/api/v1/optimize/prompt",
         {"model": MODEL, "level": "aggressive", "question": "How long is the refund window?", "target_ratio": 0.8,
          "prompt": "Answer from the context.\n\nThe refund window is 30 days. Our office has a terrace.\n\n"
                    "Question: How long is the refund window?"})
    call(api, "POST", "/api/v1/optimize/prompt",
         {"model": MODEL, "prompt": "Hi", "target_ratio": 0.5, "target_tokens": 3}, expect=400)
    call(api, "POST", "/api/v1/optimize/context",
         {"model": MODEL, "messages": MESSAGES, "max_response_tokens": 100})
    call(api, "POST", "/api/v1/optimize/context",
         {"model": MODEL, "messages": MESSAGES, "question": "What is 2+2?", "target_tokens": 10})
    call(api, "POST", "/api/v1/optimize/context",
         {"model": MODEL, "messages": MESSAGES, "max_response_tokens": 127_000}, expect=422)
    call(api, "POST", "/api/v1/optimize/chunks",
         {"model": MODEL, "text": "One sentence here. " * 40, "max_tokens_per_chunk": 50, "overlap_tokens": 5})
    call(api, "POST", "/api/v1/optimize/data-request",
         {"model": MODEL, "user_request": "Compare the daily costs of each agent last week and explain why?",
          "triage_result": {"data_needed": ["daily_costs", "agents"], "entities": ["a", "b"]},
          "previous_results": [{"name": "agents"}], "token_budget": 200})
    call(api, "POST", "/api/v1/optimize/data-request",
         {"model": MODEL, "user_request": "Compare spend per agent.",
          "triage_result": {"data_needed": ["per_agent_spend", "daily_costs"]},
          "previous_results": [{"per_agent_spend": {"triage": "1.20"}}], "token_budget": 200})
    call(api, "POST", "/api/v1/cache/store",
         {"model": MODEL, "messages": MESSAGES, "response": {"content": "4"}, "output_tokens": 1}, expect=201)
    call(api, "POST", "/api/v1/cache/store",
         {"model": MODEL, "messages": MESSAGES, "response": "4", "shared": True}, expect=403)
    call(api, "POST", "/api/v1/cache/lookup", {"model": MODEL, "messages": MESSAGES})
    call(api, "POST", "/api/v1/cache/lookup", {"model": MODEL, "messages": MESSAGES, "temperature": 1})
    asked = [MESSAGES[0], {"role": "user", "content": "How can I reset my password?"}]
    call(api, "POST", "/api/v1/cache/store", {"model": MODEL, "messages": asked, "response": "Settings",
                                              "semantic": True}, expect=201)
    call(api, "POST", "/api/v1/cache/lookup",
         {"model": MODEL, "messages": [MESSAGES[0], {"role": "user", "content": "How do I reset my password?"}],
          "semantic": True, "similarity_threshold": 0.8})
    call(api, "GET", "/api/v1/cache/stats")
    call(svc, "GET", "/api/v1/cache/stats?user=alice")
    call(api, "GET", "/api/v1/templates/select?agent_type=triage&richness=high")
    call(api, "GET", "/api/v1/templates/select?agent_type=nobody-has-this", expect=404)
    template = PromptTemplate.objects.filter(is_active=True).order_by("name").first()
    call(api, "POST", f"/api/v1/templates/{template.name}/render",
         {"variables": {name: "x" for name in template.variables}}, path="/api/v1/templates/{name}/render")
    call(api, "POST", "/api/v1/templates/nope/render", {}, path="/api/v1/templates/{name}/render", expect=404)
    call(api, "GET", "/api/v1/optimize/preferences")
    call(api, "PUT", "/api/v1/optimize/preferences", {"optimization_enabled": False})
    # With optimization off the services answer without optimizing: their shorter shapes.
    call(api, "POST", "/api/v1/optimize/prompt", {"model": MODEL, "prompt": "Please could you say hi?"})
    call(api, "POST", "/api/v1/optimize/context", {"model": MODEL, "messages": MESSAGES})
    call(api, "POST", "/api/v1/cache/lookup", {"model": MODEL, "messages": MESSAGES})
    call(api, "POST", "/api/v1/cache/store", {"model": MODEL, "messages": MESSAGES, "response": "4"})
    call(api, "PUT", "/api/v1/optimize/preferences", {"optimization_enabled": True})

    # Analytics.
    call(api, "GET", "/api/v1/reports/cost")
    call(api, "GET", "/api/v1/reports/cost?format=detailed&period=7d")
    call(api, "GET", "/api/v1/reports/cost?format=csv")
    call(api, "GET", "/api/v1/reports/cost?format=pdf", expect=400)
    call(api, "GET", "/api/v1/reports/reconciliation")
    call(svc, "GET", "/api/v1/reports/reconciliation?user=alice&period=7d")
    call(api, "GET", "/api/v1/reports/reconciliation?period=0d", expect=400)
    call(api, "GET", "/api/v1/reports/reconciliation?user=bob", expect=403)
    call(api, "GET", "/api/v1/policy")
    call(api, "GET", "/api/v1/policy?user=bob", expect=403)
    alert, _ = Alert.objects.get_or_create(
        dedupe_key="scenario:alert", defaults={"kind": Alert.KIND_USAGE_SPIKE, "user": alice, "message": "Spike."})
    call(api, "GET", "/api/v1/alerts")
    call(api, "GET", "/api/v1/alerts?state=unread", expect=400)
    call(svc, "GET", "/api/v1/alerts?user=alice&state=open")
    call(api, "GET", "/api/v1/alerts?user=bob", expect=403)
    acknowledge = "/api/v1/alerts/{alert_id}/acknowledge"
    call(api, "POST", f"/api/v1/alerts/{alert.pk}/acknowledge", {}, path=acknowledge)
    call(other, "POST", f"/api/v1/alerts/{alert.pk}/acknowledge", {}, path=acknowledge, expect=404)
    call(api, "POST", f"/api/v1/alerts/{alert.pk}/acknowledge", {"user": "bob"}, path=acknowledge, expect=403)
    _organizations_and_keys(call, api, other)
    return call.exchanges


def _organizations_and_keys(call: Recorder, api: APIClient, other: APIClient) -> None:
    """Organizations, members, projects, keys, a tag budget, a rate-limited check."""
    org = call(api, "POST", "/api/v1/organizations", {"name": "Scenario Org"}, expect=201)
    call(api, "POST", "/api/v1/organizations", {"name": "Scenario Org"}, expect=409)
    call(api, "GET", "/api/v1/organizations")
    org_path = "/api/v1/organizations/{organization_id}"
    call(api, "GET", f"/api/v1/organizations/{org['id']}", path=org_path)
    call(other, "GET", f"/api/v1/organizations/{org['id']}", path=org_path, expect=404)
    members = f"/api/v1/organizations/{org['id']}/members"
    member = call(api, "POST", members, {"username": "bob", "role": "member"}, path=f"{org_path}/members",
                  expect=201)
    call(api, "POST", members, {"username": "nobody"}, path=f"{org_path}/members", expect=400)
    call(other, "GET", members, path=f"{org_path}/members")
    call(other, "POST", members, {"username": "bob"}, path=f"{org_path}/members", expect=403)
    member_path = f"{org_path}/members/{{user_id}}"
    call(api, "PATCH", f"{members}/{member['user_id']}", {"role": "admin"}, path=member_path)
    project = call(api, "POST", "/api/v1/projects", {"organization": org["id"], "name": "Web", "rpm_limit": 1000},
                   expect=201)
    call(api, "POST", "/api/v1/projects", {"organization": org["id"], "name": "Web"}, expect=409)
    call(api, "GET", "/api/v1/projects")
    project_path = f"/api/v1/projects/{project['id']}"
    call(api, "GET", project_path, path="/api/v1/projects/{project_id}")
    call(api, "PATCH", project_path, {"tpm_limit": 100000}, path="/api/v1/projects/{project_id}")
    key = call(api, "POST", "/api/v1/keys", {"name": "limited", "project": project["id"], "rpm_limit": 1},
               expect=201)
    call(api, "POST", "/api/v1/keys", {"name": "x", "project": 10**12}, expect=400)
    call(api, "GET", "/api/v1/keys")
    key_path = f"/api/v1/keys/{key['id']}"
    call(api, "GET", key_path, path="/api/v1/keys/{key_id}")
    call(api, "PATCH", key_path, {"name": "limited-1"}, path="/api/v1/keys/{key_id}")
    call(api, "POST", "/api/v1/budgets", {"scope": "tag", "organization": org["id"], "tag": "ads",
                                          "limit_tokens": 10**9, "name": "Ads"}, expect=201)
    limited = APIClient()
    limited.credentials(HTTP_AUTHORIZATION=f"Bearer {key['key']}")
    body = {"agent": "triage", "model": MODEL, "estimated_input_tokens": 10, "tags": ["ads"]}
    call(limited, "POST", "/api/v1/budgets/check", body)
    call(limited, "POST", "/api/v1/budgets/check", body, expect=429)
    call(limited, "POST", "/api/v1/usage", {"request_id": "tagged-1", "model": MODEL, "tags": ["ads"],
                                            "prompt_tokens": 3, "completion_tokens": 1}, expect=201)
    call(api, "GET", "/api/v1/usage?tag=ads")
    call(api, "GET", "/api/v1/usage/summary?group_by=tag")
    call(api, "DELETE", "/api/v1/keys/999999999", path="/api/v1/keys/{key_id}", expect=404)
    call(api, "DELETE", key_path, path="/api/v1/keys/{key_id}")
    call(api, "DELETE", f"{members}/{member['user_id']}", path=member_path)
    call(api, "DELETE", project_path, path="/api/v1/projects/{project_id}")

