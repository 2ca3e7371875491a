"""Event delivery: after commit only, off the request path, JSON-safe, with budget figures."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import transaction

from core import events
from ingestion.services import usage_ingest
from tests.live.conftest import bearer_headers, run
from tests.live.test_consumer import RECORD, post_usage

pytestmark = pytest.mark.django_db(transaction=True)


def test_usage_rolled_back_is_never_announced(user, api, connect):
    def ingest_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            usage_ingest(user=user, api_key=None, payloads=[{**RECORD, "request_id": "rolled-back"}])
            raise RuntimeError("the caller's transaction failed")

    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        await sync_to_async(ingest_then_fail)()
        await sync_to_async(post_usage)(api, request_id="kept")
        got = await comm.receive_json_from(timeout=5)
        assert got["data"]["request_id"] == "kept"
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(scenario)


def test_a_1000_record_batch_responds_before_its_events_are_delivered(api, connect, monkeypatch):
    gate = threading.Event()
    delivered: list[int] = []
    real_deliver = events._deliver

    def held_deliver(encoded, loop):
        gate.wait(15)  # were delivery on the request path, the POST would wait here
        delivered.append(len(encoded))
        real_deliver(encoded, loop)

    monkeypatch.setattr(events, "_deliver", held_deliver)
    records = [{**RECORD, "request_id": f"big-{i}"} for i in range(1000)]
    sent_before = cache.get(events.SENT_COUNTER_KEY, 0)

    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        response = await sync_to_async(api.post)("/api/v1/usage", {"records": records}, format="json")
        assert response.status_code == 207
        assert response.json()["counts"]["created"] == 1000
        assert delivered == []
        gate.set()
        got = [await comm.receive_json_from(timeout=5) for _ in range(1000)]
        assert [e["data"]["request_id"] for e in got] == [f"big-{i}" for i in range(1000)]
        assert delivered == [1000]
        await comm.disconnect()

    run(scenario)
    assert cache.get(events.SENT_COUNTER_KEY) - sent_before == 1000


def test_token_usage_carries_the_tightest_budgets_remaining(api, connect, monkeypatch):
    asked: list[list[str]] = []

    def remaining_for_records(*, records):
        asked.append([r.request_id for r in records])
        first = records[0]
        return {first.pk: {"tokens_remaining": 98720, "usd_remaining": Decimal("4.997480000000")}}

    monkeypatch.setattr("ingestion.services.remaining_for_records", remaining_for_records)
    batch = [{**RECORD, "request_id": "with-budget"}, {**RECORD, "request_id": "no-budget"}]

    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        await sync_to_async(api.post)("/api/v1/usage", {"records": batch}, format="json")
        first = await comm.receive_json_from(timeout=5)
        second = await comm.receive_json_from(timeout=5)
        assert (first["data"]["tokens_remaining"], first["data"]["usd_remaining"]) == (98720, "4.99748")
        assert (second["data"]["tokens_remaining"], second["data"]["usd_remaining"]) == (None, None)
        await comm.disconnect()

    run(scenario)
    assert asked == [["with-budget", "no-budget"]]  # one call for the whole batch


def test_a_failing_budget_lookup_still_announces_the_usage(api, connect, monkeypatch):
    def remaining_for_records(*, records):
        raise RuntimeError("budgets are down")

    monkeypatch.setattr("ingestion.services.remaining_for_records", remaining_for_records)

    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        await sync_to_async(post_usage)(api)
        got = await comm.receive_json_from(timeout=5)
        assert (got["data"]["request_id"], got["data"]["tokens_remaining"]) == ("call-1", None)
        await comm.disconnect()

    run(scenario)


def test_other_event_types_go_out_json_safe(user, api, staff_user, make_client, connect):
    staff = make_client(staff_user)

    async def scenario():
        mine, _, _ = await connect(bearer_headers(api.raw_key))
        everyone, _, _ = await connect(bearer_headers(staff.raw_key), "/ws/usage/?scope=all")
        await sync_to_async(events.publish)(
            user.pk, "budget_alert",
            {"budget": 3, "threshold": Decimal("80"), "percent_used": Decimal("81.50")},
        )
        await sync_to_async(events.publish)(
            user.pk, "token_optimization",
            {"original_tokens": 1800, "optimized_tokens": 1200, "savings_percent": Decimal("33.33"),
             "technique": "prompt_compression"},
        )
        for comm in (mine, everyone):
            alert = await comm.receive_json_from(timeout=5)
            assert (alert["type"], alert["data"]) == (
                "budget_alert", {"budget": 3, "threshold": "80", "percent_used": "81.5"})
            saved = await comm.receive_json_from(timeout=5)
            assert (saved["type"], saved["data"]) == ("token_optimization", {
                "original_tokens": 1800, "optimized_tokens": 1200, "savings_percent": "33.33",
                "technique": "prompt_compression"})
            await comm.disconnect()

    run(scenario)


def test_unknown_event_types_are_a_programming_error(user):
    with pytest.raises(ValueError, match="unknown live event type 'usage'"):
        events.publish(user.pk, "usage", {})


def test_events_split_into_bounded_layer_messages_per_group():
    encoded = [(1, f"e{i}") for i in range(events.EVENTS_PER_MESSAGE + 1)] + [(2, "x")]
    messages = events.layer_messages(encoded)
    assert [(group, len(m["events"])) for group, m in messages] == [
        ("usage.user.1", events.EVENTS_PER_MESSAGE),
        ("usage.user.1", 1),
        ("usage.all", events.EVENTS_PER_MESSAGE),
        ("usage.all", 2),
        ("usage.user.2", 1),
    ]
    assert messages[3][1]["events"] == [f"e{events.EVENTS_PER_MESSAGE}", "x"]


def test_events_reach_the_send_hook_only_on_commit(user, monkeypatch, django_capture_on_commit_callbacks):
    sent: list[tuple[int, dict]] = []
    monkeypatch.setattr(events, "_send", lambda messages: sent.extend(messages))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.publish(user.pk, "budget_alert", {"budget": 1, "threshold": "50", "percent_used": "51.0"})
        assert sent == []
    assert [(uid, m["type"], m["data"]) for uid, m in sent] == [
        (user.pk, "budget_alert", {"budget": 1, "threshold": "50", "percent_used": "51.0"})
    ]


def test_an_event_that_cannot_be_encoded_does_not_sink_its_batch(user, api, connect):
    async def scenario():
        comm, _, _ = await connect(bearer_headers(api.raw_key))
        await sync_to_async(events.publish_many)([
            (user.pk, "budget_alert", {"budget": object()}),
            (user.pk, "budget_alert", {"budget": 2, "threshold": "80", "percent_used": "80.5"}),
        ])
        got = await comm.receive_json_from(timeout=5)
        assert got["data"] == {"budget": 2, "threshold": "80", "percent_used": "80.5"}
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(scenario)
