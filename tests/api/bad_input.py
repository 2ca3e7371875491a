"""Bad input in every place a client can put it, against every v1 operation: never a 5xx, never a lost record.

Used by tests/api/test_bad_input.py and by bench/bad_input.py (which prints the table of
docs/reliability.md). From one valid request per operation it derives the cases:

- body: every string and every key, at any depth, replaced by a NUL, a lone surrogate and
  10,001 characters (a JSON body can carry all three);
- query: every parameter the schema declares, set to a NUL, 10,001 characters, and for the date
  parameters impossible dates (``2024-02-30``, ``+99:00``, trailing text);
- path: every path id as a NUL, a surrogate, 10,001 characters, and for numeric ids text and a
  25-digit number;
- batches: each bad text in each text field of one record among three valid ones: 207, that
  record refused naming its field, the three valid ones stored ("valid records lost" counts them).

A case passes when the answer is not a 5xx and, when it is a 400, it names the field (its dotted
path or a parent of it). Over-long text is valid where a field takes long text (a prompt), so a
2xx answer is fine.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import Alert
from optimization.models import PromptTemplate
from tokens.models import UsageRecord

NUL, SURROGATE, LONG = "a\x00b", "a\ud800b", "x" * 10_001
BODY_VALUES = {"NUL": NUL, "lone surrogate": SURROGATE, "10,001 characters": LONG}
QUERY_VALUES = {"NUL": NUL, "10,001 characters": LONG}
DATE_VALUES = {
    "impossible date": "2024-02-30",
    "offset +99:00": "2024-01-01T00:00:00+99:00",
    "trailing text": "2024-01-01T00:00:00Zjunk",
    "hour 24": "2024-01-01T24:00:00",
}
DATE_PARAMS = {"from", "to", "start", "end"}
PATH_VALUES = {"NUL": "a%00b", "surrogate (UTF-8 of U+D800)": "a%ED%A0%80b", "10,001 characters": LONG}
NUMERIC_PATH_VALUES = {"text": "abc", "25 digits": "9" * 25, "negative": "-1"}
MODEL = "gpt-4o"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]


@dataclass
class Case:
    kind: str  # body, query, path, batch
    method: str
    path: str  # the schema's template
    where: str  # the dotted field, parameter or path id
    bad: str  # which bad value
    status: int
    named: bool  # a 400 that names the field (always true for other statuses)
    lost: int = 0  # valid records of the batch that were not stored


def _string_positions(value: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every (path, "value" | "key") where a string sits in a JSON value."""
    found = []
    if isinstance(value, str):
        found.append((path, "value"))
    elif isinstance(value, dict):
        for key, child in value.items():
            found.append(((*path, key), "key"))
            found.extend(_string_positions(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_string_positions(child, (*path, index)))
    return found


def _replace(body: Any, path: tuple, what: str, bad: str) -> Any:
    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1] if path else None
    if not path:
        return bad
    if what == "key":
        parent[bad] = parent.pop(last)
    else:
        parent[last] = bad
    return body


def _dotted(path: tuple) -> str:
    return ".".join(str(step) for step in path)


def _names(response, field: str) -> bool:
    if response.status_code != 400:
        return True
    fields = response.json()["error"]["fields"]
    return any(field == name or field.startswith(f"{name}.") or name.startswith(f"{field}.")
               for name in fields) or (field == "" and bool(fields))


def base_requests(*, alice, staff_client: APIClient, client: APIClient) -> list[tuple[str, str, str, Any, dict]]:
    """One valid request per operation: (method, schema path, url, body, query)."""
    budget = staff_client.post("/api/v1/budgets", {"user": alice.username, "limit_tokens": 10**9}, format="json")
    assert budget.status_code == 201, budget.content
    check = client.post("/api/v1/budgets/check", {"agent": "triage", "model": MODEL, "estimated_input_tokens": 10,
                                                  "max_output_tokens": 10, "reserve": True}, format="json")
    reservation = check.json()["reservation"]["id"]
    run = client.post("/api/v1/usage", {"request_id": "base-run", "model": MODEL, "run_id": "run-1",
                                        "prompt_tokens": 5, "completion_tokens": 5}, format="json")
    assert run.status_code == 201, run.content
    # The seeded templates are gone after a transactional test flushed the tables: one of the table's own.
    template, _ = PromptTemplate.objects.get_or_create(
        name="bad-input", version=1,
        defaults={"agent_type": "triage", "richness": "high", "body": "Help {{who}} with: {{question}}"})
    record = {
        "request_id": "bad-input-1", "model": MODEL, "agent": "triage", "tool": "search", "run_id": "run-1",
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 2},
                  "service_tier": "default"},
        "service_tier": "default", "units": {"image_size": "1024x1024"},
        "occurred_at": timezone.now().isoformat(), "optimization": {"technique": "compression",
                                                                   "original_tokens": 30},
        "metadata": {"trace": "t-1", "tags": ["a", {"deep": "b"}]}, "tags": ["ads", "eu"],
    }
    budget_path = f"/api/v1/budgets/{budget.json()['id']}"
    alert, _ = Alert.objects.get_or_create(
        dedupe_key="bad-input:alert", defaults={"kind": Alert.KIND_USAGE_SPIKE, "user": alice, "message": "Spike."})
    res = f"/api/v1/budgets/reservations/{reservation}"
    org = client.post("/api/v1/organizations", {"name": "Bad Input Org"}, format="json").json()
    org_path = f"/api/v1/organizations/{org['id']}"
    bob = get_user_model().objects.get_or_create(username="bad-input-bob")[0]
    client.post(f"{org_path}/members", {"username": bob.username}, format="json")
    member_path = f"{org_path}/members/{bob.pk}"
    project = client.post("/api/v1/projects", {"organization": org["id"], "name": "Web"}, format="json").json()
    project_path = f"/api/v1/projects/{project['id']}"
    key = client.post("/api/v1/keys", {"name": "bad-input"}, format="json").json()
    key_path = f"/api/v1/keys/{key['id']}"
    return [
        ("GET", "/api/v1/organizations", "/api/v1/organizations", None, {}),
        ("POST", "/api/v1/organizations", "/api/v1/organizations", {"name": "Org 2", "slug": "org-2"}, {}),
        ("GET", "/api/v1/organizations/{organization_id}", org_path, None, {}),
        ("GET", "/api/v1/organizations/{organization_id}/members", f"{org_path}/members", None, {}),
        ("POST", "/api/v1/organizations/{organization_id}/members", f"{org_path}/members",
         {"username": "root", "role": "member"}, {}),
        ("PATCH", "/api/v1/organizations/{organization_id}/members/{user_id}", member_path, {"role": "admin"}, {}),
        ("DELETE", "/api/v1/organizations/{organization_id}/members/{user_id}", member_path, None, {}),
        ("GET", "/api/v1/projects", "/api/v1/projects", None, {"organization": str(org["id"])}),
        ("POST", "/api/v1/projects", "/api/v1/projects", {"organization": org["id"], "name": "Mobile",
                                                          "slug": "mobile"}, {}),
        ("GET", "/api/v1/projects/{project_id}", project_path, None, {}),
        ("PATCH", "/api/v1/projects/{project_id}", project_path, {"name": "Web 2"}, {}),
        ("DELETE", "/api/v1/projects/{project_id}", project_path, None, {}),
        ("GET", "/api/v1/keys", "/api/v1/keys", None, {}),
        ("POST", "/api/v1/keys", "/api/v1/keys", {"name": "k2"}, {}),
        ("GET", "/api/v1/keys/{key_id}", key_path, None, {}),
        ("PATCH", "/api/v1/keys/{key_id}", key_path, {"name": "renamed"}, {}),
        ("DELETE", "/api/v1/keys/{key_id}", key_path, None, {}),
        ("GET", "/api/v1/alerts", "/api/v1/alerts", None, {"state": "open", "user": alice.username}),
        ("POST", "/api/v1/alerts/{alert_id}/acknowledge", f"/api/v1/alerts/{alert.pk}/acknowledge",
         {"user": alice.username}, {}),
        ("GET", "/api/v1/budgets", "/api/v1/budgets", None, {"user": alice.username}),
        ("POST", "/api/v1/budgets", "/api/v1/budgets",
         {"scope": "user_agent", "user": alice.username, "agent": "writer", "period": "day", "limit_usd": "5",
          "timezone": "Europe/Paris", "webhook_url": "https://example.com/hook", "webhook_secret": "s"}, {}),
        ("GET", "/api/v1/budgets/{budget_id}", budget_path, None, {}),
        ("PATCH", "/api/v1/budgets/{budget_id}", budget_path,
         {"limit_tokens": 2 * 10**9, "timezone": "UTC", "webhook_secret": "t"}, {}),
        ("POST", "/api/v1/budgets/check", "/api/v1/budgets/check",
         {"agent": "triage", "model": MODEL, "run_id": "run-1", "messages": MESSAGES, "user": alice.username,
          "tags": ["ads"]}, {}),
        ("GET", "/api/v1/budgets/reservations/{reservation_id}", res, None, {"user": alice.username}),
        ("POST", "/api/v1/budgets/reservations/{reservation_id}/commit", f"{res}/commit",
         {"user": alice.username}, {}),
        ("POST", "/api/v1/budgets/reservations/{reservation_id}/release", f"{res}/release",
         {"user": alice.username}, {}),
        ("POST", "/api/v1/cache/lookup", "/api/v1/cache/lookup",
         {"model": MODEL, "messages": MESSAGES, "params": {"temperature": 0, "tools": [{"name": "t"}]},
          "agent": "triage"}, {}),
        ("GET", "/api/v1/cache/stats", "/api/v1/cache/stats", None, {"user": alice.username}),
        ("POST", "/api/v1/cache/store", "/api/v1/cache/store",
         {"model": MODEL, "messages": MESSAGES, "response": {"content": "4", "choices": ["x"]},
          "params": {"response_format": "text"}}, {}),
        ("GET", "/api/v1/models", "/api/v1/models", None, {"provider": "openai"}),
        ("POST", "/api/v1/optimize/chunks", "/api/v1/optimize/chunks",
         {"model": MODEL, "text": "One sentence here. " * 5, "max_tokens_per_chunk": 20}, {}),
        ("POST", "/api/v1/optimize/context", "/api/v1/optimize/context",
         {"model": MODEL, "messages": MESSAGES, "max_response_tokens": 100}, {}),
        ("POST", "/api/v1/optimize/data-request", "/api/v1/optimize/data-request",
         {"model": MODEL, "user_request": "Compare the daily costs", "token_budget": 200,
          "triage_result": {"data_needed": ["daily_costs"], "entities": ["a"]},
          "previous_results": [{"name": "agents"}]}, {}),
        ("GET", "/api/v1/optimize/preferences", "/api/v1/optimize/preferences", None, {"user": alice.username}),
        ("PUT", "/api/v1/optimize/preferences", "/api/v1/optimize/preferences",
         {"optimization_enabled": True, "user": alice.username}, {}),
        ("POST", "/api/v1/optimize/prompt", "/api/v1/optimize/prompt",
         {"model": MODEL, "prompt": "Please could you summarize this?", "level": "balanced"}, {}),
        ("GET", "/api/v1/policy", "/api/v1/policy", None, {"user": alice.username}),
        ("GET", "/api/v1/reports/cost", "/api/v1/reports/cost", None,
         {"format": "summary", "period": "7d", "start": "2024-01-01", "end": "2024-01-31", "user": alice.username}),
        ("GET", "/api/v1/reports/reconciliation", "/api/v1/reports/reconciliation", None,
         {"period": "7d", "start": "2024-01-01", "end": "2024-01-31", "user": alice.username}),
        ("GET", "/api/v1/runs/{run_id}", "/api/v1/runs/run-1", None, {"user": alice.username}),
        ("POST", "/api/v1/templates/{name}/render", f"/api/v1/templates/{template.name}/render",
         {"variables": {"who": "alice", "question": "x"}, "model": MODEL}, {}),
        ("GET", "/api/v1/templates/select", "/api/v1/templates/select", None,
         {"agent_type": "triage", "richness": "high"}),
        ("POST", "/api/v1/tokens/count", "/api/v1/tokens/count", {"model": MODEL, "messages": MESSAGES}, {}),
        ("GET", "/api/v1/usage", "/api/v1/usage", None,
         {"agent": "triage", "model": MODEL, "tool": "search", "run_id": "run-1", "from": "2024-01-01",
          "to": "2030-01-01T00:00:00Z", "user": alice.username, "cursor": "cD0yMDI0", "page_size": "10",
          "tag": "ads", "project": "1"}),
        ("POST", "/api/v1/usage", "/api/v1/usage", record, {}),
        ("GET", "/api/v1/usage/summary", "/api/v1/usage/summary", None,
         {"group_by": "agent", "from": "2024-01-01", "to": "2030-01-01", "user": alice.username}),
    ]


def _send(client: APIClient, method: str, url: str, body: Any, query: dict) -> Any:
    if body is None:
        return getattr(client, method.lower())(url, query)
    # json.dumps escapes a lone surrogate (\ud800), as any JSON client may send it; DRF's test renderer cannot.
    return client.generic(method, url, json.dumps(body), content_type="application/json")


# Operations only staff and service keys may call.
OPERATOR_ONLY = {("POST", "/api/v1/budgets"), ("PATCH", "/api/v1/budgets/{budget_id}")}


def body_cases(client: APIClient, staff_client: APIClient, requests) -> list[Case]:
    cases = []
    for method, template, url, body, query in requests:
        if body is None:
            continue
        caller = staff_client if (method, template) in OPERATOR_ONLY else client
        for path, what in _string_positions(body):
            for label, bad in BODY_VALUES.items():
                sent = _replace(body, path, what, bad)
                if template == "/api/v1/usage" and "request_id" not in path:
                    sent["request_id"] = f"bad-{uuid.uuid4().hex}"
                response = _send(caller, method, url, sent, query)
                field = _dotted(path[:-1] if what == "key" else path)
                cases.append(Case("body", method, template, f"{field or 'body'}{' (a key)' if what == 'key' else ''}",
                                  label, response.status_code, _names(response, field)))
    return cases


def query_cases(client: APIClient, requests) -> list[Case]:
    cases = []
    for method, template, url, body, query in requests:
        if body is not None:
            continue
        for name in query:
            values = {**QUERY_VALUES, **(DATE_VALUES if name in DATE_PARAMS else {})}
            for label, bad in values.items():
                response = _send(client, method, url, None, {**query, name: bad})
                cases.append(Case("query", method, template, name, label, response.status_code,
                                  _names(response, name)))
    return cases


def path_cases(client: APIClient, requests) -> list[Case]:
    cases = []
    for method, template, _url, body, _query in requests:
        if "{" not in template:
            continue
        name = template[template.index("{") + 1:template.index("}")]
        prefix = template[:template.index("{")]
        suffix = template[template.index("}") + 1:]
        values = {**PATH_VALUES, **(NUMERIC_PATH_VALUES if name == "budget_id" else {})}
        for label, bad in values.items():
            response = _send(client, method, f"{prefix}{bad}{suffix}", body, {})
            cases.append(Case("path", method, template, name, label, response.status_code, True))
    return cases


# The text fields of a usage record, each to be spoiled in one record of a batch.
RECORD_FIELDS = ("request_id", "model", "agent", "tool", "run_id", "user", "optimization.technique",
                 "service_tier", "usage.service_tier", "metadata.trace", "metadata.tags.1.deep", "metadata (a key)",
                 "occurred_at")


def _spoil(record: dict, field: str, bad: str) -> dict:
    record = copy.deepcopy(record)
    if field == "metadata (a key)":
        record["metadata"][bad] = "x"
        return record
    parent, steps = record, field.split(".")
    for step in steps[:-1]:
        parent = parent[int(step)] if isinstance(parent, list) else parent.setdefault(step, {})
    parent[steps[-1]] = bad
    return record


def batch_cases(client: APIClient, *, username: str) -> list[Case]:
    cases = []
    now = timezone.now().isoformat()
    for field in RECORD_FIELDS:
        values = DATE_VALUES if field == "occurred_at" else BODY_VALUES
        for label, bad in values.items():
            run = uuid.uuid4().hex[:12]
            valid = [{"request_id": f"ok-{run}-{i}", "model": MODEL, "agent": "batch", "occurred_at": now,
                      "usage": {"prompt_tokens": 10, "completion_tokens": 2}, "metadata": {"trace": "t",
                                                                                    "tags": ["a", {"deep": "b"}]},
                      "optimization": {"technique": "compression", "original_tokens": 12}, "user": username}
                     for i in range(3)]
            spoiled = _spoil({**valid[0], "request_id": f"bad-{run}"}, field, bad)
            response = _send(client, "POST", "/api/v1/usage", {"records": [valid[0], spoiled, valid[1], valid[2]]},
                             {})
            stored = UsageRecord.objects.filter(request_id__in=[r["request_id"] for r in valid]).count()
            named = False
            if response.status_code == 207:
                result = response.json()["results"][1]
                plain = field.replace(" (a key)", "")
                named = result["status"] == "invalid" and any(
                    plain == name or plain.startswith(f"{name}.") or name.startswith(f"{plain}.")
                    for name in result["errors"])
            cases.append(Case("batch", "POST", "/api/v1/usage", field, label, response.status_code, named,
                              lost=len(valid) - stored))
    return cases


def run(*, alice, client: APIClient, staff_client: APIClient) -> list[Case]:
    requests = base_requests(alice=alice, staff_client=staff_client, client=client)
    return [*body_cases(client, staff_client, requests), *query_cases(client, requests),
            *path_cases(client, requests), *batch_cases(client, username=alice.username)]


def table(cases: list[Case]) -> str:
    """The Markdown table of docs/reliability.md: one row per kind of place, and the total."""
    rows = ["| where | cases | 2xx | 4xx | 5xx | 400 not naming the field | valid records lost |",
            "|---|---|---|---|---|---|---|"]
    for kind in ("body", "query", "path", "batch", None):
        chosen = [c for c in cases if kind is None or c.kind == kind]
        by_class = Counter(c.status // 100 for c in chosen)
        rows.append(f"| {kind or '**all**'} | {len(chosen)} | {by_class[2]} | {by_class[4]} | {by_class[5]} "
                    f"| {sum(not c.named for c in chosen)} | {sum(c.lost for c in chosen)} |")
    return "\n".join(rows)


def failures(cases: list[Case]) -> list[Case]:
    """What breaks the contract: a 5xx, a 400 that does not say which field, a lost valid record, and a
    bad record in a batch that was not refused."""
    return [c for c in cases if c.status >= 500 or not c.named or c.lost]
