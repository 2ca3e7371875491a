"""One customer against another, across the APIs, the pages and the live socket: 0 leaks, 0 interference.

alice and bob each have usage, a run, a budget, a hold, cache entries and preferences, all
marked with their own names. Then:

- leaks: every read alice can make (each GET operation, the pages, her socket) shows none of
  bob's markers, and every one of bob's ids she names (run, budget, reservation, cache entry,
  ledger filters) is answered as if it did not exist;
- interference: what bob does (the same request_id, a flood of usage against his hard budget,
  a release of alice's hold, cache stores past his quota, switching his optimization off, wrong
  passwords for his login) changes none of alice's figures, entries, settings or access.

The counts are the isolation figures of docs/reliability.md.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from budgets.services import budget_create
from tests.live.conftest import bearer_headers, run
from tokens.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "gpt-4o"


def marked(name: str) -> dict[str, str]:
    return {"agent": f"agent-{name}-x7", "tool": f"tool-{name}-x7", "run_id": f"run-{name}-x7",
            "metadata": {"owner": f"meta-{name}-x7"}}


def post_usage(client, name: str, request_id: str, **extra) -> dict:
    response = client.post("/api/v1/usage", {
        "request_id": request_id, "model": MODEL, **marked(name),
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100}, **extra}, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def hold(client, name: str) -> str:
    response = client.post("/api/v1/budgets/check", {"agent": f"agent-{name}-x7", "model": MODEL,
                                                     "estimated_input_tokens": 100, "max_output_tokens": 10,
                                                     "reserve": True}, format="json")
    assert response.status_code == 200 and response.json()["allowed"], response.content
    return response.json()["reservation"]["id"]


def cache_store(client, name: str, n: int) -> None:
    response = client.post("/api/v1/cache/store", {
        "model": MODEL, "messages": [{"role": "user", "content": f"question {n} of {name}-x7"}],
        "response": {"content": f"answer of {name}-x7"}, "output_tokens": 5}, format="json")
    assert response.status_code == 201, response.content


def cache_hit(client, name: str, n: int) -> bool:
    response = client.post("/api/v1/cache/lookup", {
        "model": MODEL, "messages": [{"role": "user", "content": f"question {n} of {name}-x7"}]}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["hit"]


BOB_SECRETS = ("agent-bob-x7", "tool-bob-x7", "meta-bob-x7", "answer of bob", '"user":"bob"', '"user": "bob"')
ALICE_READS = [
    "/api/v1/usage", "/api/v1/usage?agent=agent-bob-x7", "/api/v1/usage?run_id=run-bob-x7",
    "/api/v1/usage/summary", "/api/v1/usage/summary?group_by=tool", "/api/v1/usage/summary?group_by=model",
    "/api/v1/runs/run-alice-x7", "/api/v1/budgets", "/api/v1/cache/stats", "/api/v1/optimize/preferences",
    "/api/v1/policy", "/api/v1/reports/cost", "/api/v1/reports/cost?format=detailed",
    "/api/v1/reports/cost?format=csv", "/api/v1/models",
]
ALICE_PAGES = ["/dashboard/", "/reports/", "/live/", "/live/snapshot/", "/live/snapshot/?part=budgets"]


def test_one_customer_never_sees_or_disturbs_another(user, other_user, api, other_api, connect, settings):
    alice_api, bob_api = api, other_api
    for who in (user, other_user):
        budget_create(by=None, user=who, limit_tokens=50_000, enforcement="hard", period="month")
    bob_budget = budget_create(by=None, user=other_user, agent="agent-bob-x7", scope="user_agent",
                               limit_tokens=5_000, period="month")
    for name, client in (("alice", alice_api), ("bob", bob_api)):
        post_usage(client, name, f"req-{name}-x7")
        for n in range(3):
            cache_store(client, name, n)
    alice_hold, bob_hold = hold(alice_api, "alice"), hold(bob_api, "bob")
    leaks, interference, cases = [], [], {"leak": 0, "interference": 0}

    def no_bob(where: str, text: str) -> None:
        cases["leak"] += 1
        if "bob" in text:
            leaks.append(where)

    def unseen(where: str, response, *, status: int = 404) -> None:
        # The answer may echo the id alice named ("No run 'run-bob-x7'."), nothing else of bob's.
        cases["leak"] += 1
        body = response.content.decode()
        if response.status_code != status or any(secret in body for secret in BOB_SECRETS):
            leaks.append(f"{where}: {response.status_code}")

    # Leaks through the API: every read alice can make.
    for url in ALICE_READS:
        response = alice_api.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        no_bob(url, response.content.decode())
    # bob's ids, named by alice.
    unseen("run of bob", alice_api.get("/api/v1/runs/run-bob-x7"))
    unseen("budget of bob", alice_api.get(f"/api/v1/budgets/{bob_budget.pk}"))
    unseen("hold of bob", alice_api.get(f"/api/v1/budgets/reservations/{bob_hold}"))
    unseen("release bob's hold", alice_api.post(f"/api/v1/budgets/reservations/{bob_hold}/release", {},
                                                format="json"))
    unseen("commit bob's hold", alice_api.post(f"/api/v1/budgets/reservations/{bob_hold}/commit", {},
                                               format="json"))
    unseen("act for bob", alice_api.get("/api/v1/usage?user=bob"), status=403)
    unseen("post as bob", alice_api.post("/api/v1/usage", {"request_id": "x", "model": MODEL, "user": "bob",
                                                          "prompt_tokens": 1, "completion_tokens": 1},
                                         format="json"), status=403)
    for n in range(3):
        cases["leak"] += 1
        if cache_hit(alice_api, "bob", n):
            leaks.append(f"cache entry {n} of bob")
    # The same request_id is a different record per customer: alice's post is not bob's duplicate.
    mine = post_usage(alice_api, "alice", "req-shared-x7")
    theirs = post_usage(bob_api, "bob", "req-shared-x7")
    cases["leak"] += 1
    if mine.get("duplicate") or theirs.get("duplicate") or mine["id"] == theirs["id"]:
        leaks.append("request_id shared across customers")

    # Leaks through the pages (alice's session).
    browser = Client()
    browser.force_login(user)
    for url in ALICE_PAGES:
        response = browser.get(url)
        assert response.status_code == 200, url
        no_bob(url, response.content.decode())
    unseen("all-users live page", browser.get("/live/?scope=all"), status=403)

    # Interference: alice's figures before and after everything bob does.
    def alice_state() -> str:
        reads = {url: alice_api.get(url).json() for url in ("/api/v1/budgets", "/api/v1/usage/summary",
                                                             "/api/v1/optimize/preferences")}
        # A forecast moves with the clock; what bob could change is the spend it is measured from.
        for budget in reads["/api/v1/budgets"]["budgets"]:
            basis = budget.pop("forecast")["basis"]
            budget["forecast basis"] = (basis["spent_usd"], basis["spent_tokens"])
        # Her own lookups below count hits: compare what she has stored, not how often she asked.
        reads["cache entries"] = alice_api.get("/api/v1/cache/stats").json()["user"]["entries"]
        reads["hold"] = alice_api.get(f"/api/v1/budgets/reservations/{alice_hold}").json()
        reads["cache"] = [cache_hit(alice_api, "alice", n) for n in range(3)]
        return json.dumps(reads, sort_keys=True)

    before = alice_state()
    bob_acts = {
        "bob releases alice's hold": lambda: bob_api.post(f"/api/v1/budgets/reservations/{alice_hold}/release",
                                                          {}, format="json"),
        "bob posts alice's request_id": lambda: post_usage(bob_api, "bob", "req-alice-x7"),
        "bob overspends his budget": lambda: [post_usage(bob_api, "bob", f"flood-{i}") for i in range(10)],
        "bob fills his cache quota": lambda: [cache_store(bob_api, "bob", n) for n in range(3, 12)],
        "bob turns optimization off": lambda: bob_api.put("/api/v1/optimize/preferences",
                                                          {"optimization_enabled": False}, format="json"),
        "bob's login is locked out": lambda: [Client().post("/accounts/login/", {"username": "bob",
                                                                                  "password": "wrong"})
                                              for _ in range(settings.AXES_FAILURE_LIMIT + 1)],
    }
    settings.NETRA_RESPONSE_CACHE_MAX_ENTRIES = 8  # bob's stores would evict alice's under a global LRU
    for what, act in bob_acts.items():
        act()
        cases["interference"] += 1
        after = alice_state()
        if after != before:
            interference.append(what)
            before = after
    cases["interference"] += 1
    login = Client().post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    if login.status_code != 302:
        interference.append("alice locked out by bob's failures")

    # The socket: alice's never carries bob's events; bob's never alice's.
    async def sockets():
        _, alice_key = await sync_to_async(api_key_create)(user=user, name="ws")
        alice_ws, accepted, code = await connect(bearer_headers(alice_key))
        assert accepted and code is None
        _, bob_key = await sync_to_async(api_key_create)(user=other_user, name="ws")
        bob_ws, accepted, code = await connect(bearer_headers(bob_key))
        assert accepted and code is None
        for i in range(5):
            await sync_to_async(post_usage)(bob_api, "bob", f"ws-bob-{i}")
        await sync_to_async(post_usage)(alice_api, "alice", "ws-alice-1")
        got = await alice_ws.receive_json_from(timeout=5)
        cases["leak"] += 1
        if got["data"]["user"] != "alice" or not await alice_ws.receive_nothing(timeout=0.3):
            leaks.append("socket: bob's event on alice's socket")
        for _ in range(5):
            got = await bob_ws.receive_json_from(timeout=5)
            cases["leak"] += 1
            if got["data"]["user"] != "bob":
                leaks.append("socket: alice's event on bob's socket")
        await alice_ws.disconnect()
        await bob_ws.disconnect()

    run(sockets)
    print(f"isolation: {cases['leak']} leak cases, {len(leaks)} leaks; "
          f"{cases['interference']} interference cases, {len(interference)} interfered")
    assert leaks == []
    assert interference == []
