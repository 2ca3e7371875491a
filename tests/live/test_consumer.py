"""WS /ws/usage/: who may connect, who receives what, and the envelope on the wire."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.factories import UserFactory
from tests.live.conftest import bearer_headers, run, session_headers
from tokens.models import ApiKey
from tokens.services import api_key_revoke

pytestmark = pytest.mark.django_db(transaction=True)

RECORD = {
    "request_id": "call-1",
    "model": "gpt-4o",
    "agent": "triage",
    "tool": "classify",
    "run_id": "run-7",
    "usage": {
        "prompt_tokens": 1200, "completion_tokens": 80, "prompt_tokens_details": {"cached_tokens": 1024},
    },
}


def post_usage(client, **overrides):
    response = client.post("/api/v1/usage", {**RECORD, **overrides}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_bearer_client_receives_its_token_usage_event_with_the_full_envelope(api, connect):
    async def scenario():
        comm, accepted, code = await connect(bearer_headers(api.raw_key))
        assert (accepted, code) == (True, None)
        stored = await sync_to_async(post_usage)(api)
        event = await comm.receive_json_from(timeout=5)
        assert set(event) == {"type", "data", "ts"}
        assert event["type"] == "token_usage"
        assert isinstance(event["ts"], float)
        assert event["data"] == {
            "id": stored["id"],
            "request_id": "call-1",
            "user": "alice",
            "agent": "triage",
            "model": "gpt-4o",
            "tool": "classify",
            "run_id": "run-7",
            "tokens_used": 1280,
            "prompt_tokens": 1200,
            "completion_tokens": 80,
            # gpt-4o: 176 input at $2.50/M + 1024 cached at $1.25/M + 80 output at $10/M
            "cost_usd": "0.00252",
            "priced": True,
            "tokens_remaining": None,
            "usd_remaining": None,
            "optimization_applied": False,
            "optimization_technique": None,
            "cache_hit": False,
            "occurred_at": stored["occurred_at"],
        }
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(scenario)


def test_browser_session_from_the_sites_own_page_receives_events(user, api, connect):
    async def scenario():
        headers = await sync_to_async(session_headers)(user)
        comm, accepted, code = await connect(headers)
        assert (accepted, code) == (True, None)
        await sync_to_async(post_usage)(api, optimization={"technique": "prompt_compression",
                                                           "original_tokens": 1800})
        event = await comm.receive_json_from(timeout=5)
        data = event["data"]
        assert (event["type"], data["user"], data["tokens_used"]) == ("token_usage", "alice", 1280)
        assert (event["data"]["optimization_applied"], event["data"]["optimization_technique"]) == (
            True, "prompt_compression")
        await comm.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    "kind",
    ["anonymous", "bad_key", "not_bearer", "revoked_key", "session_without_origin", "session_foreign_origin",
     "inactive_user"],
)
def test_missing_or_bad_credentials_are_refused_with_4401(kind, user, api, connect):
    def headers():
        if kind == "anonymous":
            return []
        if kind == "bad_key":
            return bearer_headers("ntk_not-a-real-key")
        if kind == "not_bearer":
            return [(b"authorization", f"Token {api.raw_key}".encode())]
        if kind == "revoked_key":

            api_key_revoke(key=ApiKey.objects.get(user=user))
            return bearer_headers(api.raw_key)
        if kind == "session_without_origin":
            return session_headers(user, origin="")
        if kind == "session_foreign_origin":
            return session_headers(user, origin="https://evil.example")
        if kind == "inactive_user":
            found = session_headers(user)
            user.is_active = False
            user.save(update_fields=["is_active"])
            return found
        raise AssertionError(kind)

    async def scenario():
        comm, accepted, code = await connect(await sync_to_async(headers)())
        assert (accepted, code) == (True, 4401)

    run(scenario)


def test_a_bad_bearer_key_is_refused_even_with_a_valid_session(user, connect):
    async def scenario():
        headers = await sync_to_async(session_headers)(user) + bearer_headers("ntk_wrong")
        comm, accepted, code = await connect(headers)
        assert code == 4401

    run(scenario)


def test_customer_asking_for_all_users_is_refused_with_4403(user, api, connect):
    async def scenario():
        comm, _, code = await connect(bearer_headers(api.raw_key), "/ws/usage/?scope=all")
        assert code == 4403
        headers = await sync_to_async(session_headers)(user)
        comm, _, code = await connect(headers, "/ws/usage/?scope=all")
        assert code == 4403

    run(scenario)


def test_customers_only_ever_see_their_own_events(api, other_api, connect):
    async def scenario():
        alice, _, _ = await connect(bearer_headers(api.raw_key))
        bob, _, _ = await connect(bearer_headers(other_api.raw_key))
        await sync_to_async(post_usage)(api, request_id="alice-1")
        await sync_to_async(post_usage)(other_api, request_id="bob-1")
        got = await alice.receive_json_from(timeout=5)
        assert (got["data"]["user"], got["data"]["request_id"]) == ("alice", "alice-1")
        # Events leave in commit order, so had alice's leaked to bob it would come first.
        got = await bob.receive_json_from(timeout=5)
        assert (got["data"]["user"], got["data"]["request_id"]) == ("bob", "bob-1")
        assert await alice.receive_nothing(timeout=0.2)
        assert await bob.receive_nothing(timeout=0.05)
        await alice.disconnect()
        await bob.disconnect()

    run(scenario)


def test_staff_all_users_view_gets_everyones_events_once(staff_user, api, other_api, make_client, connect):
    staff = make_client(staff_user)

    async def scenario():
        everyone, _, code = await connect(bearer_headers(staff.raw_key), "/ws/usage/?scope=all")
        assert code is None
        own, _, _ = await connect(bearer_headers(staff.raw_key))
        await sync_to_async(post_usage)(api, request_id="a-1")
        await sync_to_async(post_usage)(other_api, request_id="b-1")
        got = [await everyone.receive_json_from(timeout=5) for _ in range(2)]
        seen = [(e["data"]["user"], e["data"]["request_id"]) for e in got]
        assert seen == [("alice", "a-1"), ("bob", "b-1")]
        assert await everyone.receive_nothing(timeout=0.2)
        # Without scope=all a staff member is a customer like any other.
        assert await own.receive_nothing(timeout=0.05)
        await everyone.disconnect()
        await own.disconnect()

    run(scenario)


def test_staff_session_all_users_view(staff_user, api, connect):
    async def scenario():
        headers = await sync_to_async(session_headers)(staff_user)
        comm, _, code = await connect(headers, "/ws/usage/?scope=all")
        assert code is None
        await sync_to_async(post_usage)(api)
        got = await comm.receive_json_from(timeout=5)
        assert got["data"]["user"] == "alice"
        await comm.disconnect()

    run(scenario)


def test_batch_events_arrive_in_order_one_frame_each(api, connect):
    records = [{**RECORD, "request_id": f"b-{i}", "agent": f"agent-{i % 3}"} for i in range(300)]

    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        response = await sync_to_async(api.post)("/api/v1/usage", {"records": records}, format="json")
        assert response.json()["counts"] == {"created": 300, "duplicate": 0, "invalid": 0}
        got = [await comm.receive_json_from(timeout=5) for _ in range(300)]
        assert [e["data"]["request_id"] for e in got] == [f"b-{i}" for i in range(300)]
        assert await comm.receive_nothing(timeout=0.2)
        # Duplicates are stored once and announced once.
        response = await sync_to_async(api.post)("/api/v1/usage", {"records": records[:5]}, format="json")
        assert response.json()["counts"]["duplicate"] == 5
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    run(scenario)


def test_staff_default_scope_is_own_events_only(staff_user, make_client, connect):
    staff = make_client(staff_user)
    UserFactory(username="carol")

    async def scenario():
        comm, _, code = await connect(bearer_headers(staff.raw_key))
        assert code is None
        await sync_to_async(post_usage)(staff, request_id="root-1")
        got = await comm.receive_json_from(timeout=5)
        assert got["data"]["user"] == "root"
        await comm.disconnect()

    run(scenario)
