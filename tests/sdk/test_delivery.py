"""Usage is never lost: retries keep the request_id, a dead server's usage is buffered and
flushed in batches when it returns, and tracking never breaks the agent's own call."""

from __future__ import annotations

import logging
import socket
import threading
import time
from decimal import Decimal

import pytest

from netra_client import NetraClient, TokenTracker, wrap_anthropic, wrap_openai
from tests.sdk.conftest import stored
from tests.sdk.fakes import ANTHROPIC_COST, OPENAI_COST

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "Where is my parcel?"}]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _usage(request_id: str) -> dict:
    return {"request_id": request_id, "model": "gpt-4o", "agent": "a",
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


def test_server_killed_mid_run_loses_no_usage(proxy, api, openai_client, anthropic_client):
    netra = NetraClient(proxy.url, api.raw_key, retries=1, backoff=0.01, timeout=5, flush_interval=0)
    tracker = TokenTracker(netra, agent="support", run_id="run-outage")
    oai, claude = wrap_openai(openai_client, tracker), wrap_anthropic(anthropic_client, tracker)
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": MESSAGES}

    oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    proxy.stop()  # the server dies mid-run
    answers = [
        oai.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content,
        claude.messages.create(**kwargs).content[0].text,
        "".join(c.choices[0].delta.content or "" for c in oai.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True)),
    ]

    assert answers == ["Hello there."] * 3  # the agent never noticed
    assert netra.pending == 3
    buffered = netra.buffer.snapshot()
    buffered_ids = [r["request_id"] for r in buffered]
    assert netra.flush() == 3  # still down: nothing lost, nothing sent
    assert len(stored(api)) == 1

    proxy.start()  # the server is back on the same address
    assert netra.flush() == 0

    records = stored(api, run_id="run-outage")
    assert len(records) == 4
    assert set(buffered_ids) <= {r["request_id"] for r in records}
    assert sum(Decimal(r["cost_usd"]) for r in records) == 3 * Decimal(OPENAI_COST) + Decimal(ANTHROPIC_COST)
    # Sending the same buffered records again stores nothing twice.
    again = netra.usage_create_batch(buffered)
    assert again.counts == {"created": 0, "duplicate": 3, "invalid": 0}
    assert len(stored(api)) == 4
    run = tracker.server_metrics()
    assert run.totals["requests"] == 4
    assert run.totals["cost_usd"] == 3 * Decimal(OPENAI_COST) + Decimal(ANTHROPIC_COST)
    local = tracker.metrics["totals"]
    assert (local["requests"], local["unpriced_requests"]) == (4, 3)
    assert local["total_tokens"] == run.totals["total_tokens"]
    netra.close(flush=False)


def test_buffered_records_resent_keep_their_request_ids_and_are_stored_once(proxy, api):
    netra = NetraClient(proxy.url, api.raw_key, retries=0, timeout=5, flush_interval=0)
    proxy.stop()
    for rid in ("r-1", "r-2", "r-3"):
        assert netra.usage_send(_usage(rid)) is None
    proxy.start()
    # r-1 and r-2 were delivered by another process before we flush: they must not double.
    netra.usage_create_batch([_usage("r-1"), _usage("r-2")])

    assert netra.flush() == 0

    assert sorted(r["request_id"] for r in stored(api)) == ["r-1", "r-2", "r-3"]
    result = netra.usage_create_batch([_usage("r-1"), _usage("r-2"), _usage("r-3")])
    assert result.counts == {"created": 0, "duplicate": 3, "invalid": 0}
    netra.close(flush=False)


def test_lost_answer_is_retried_with_the_same_request_id_and_stored_once(proxy, api):
    netra = NetraClient(proxy.url, api.raw_key, retries=2, backoff=0.01, timeout=5, flush_interval=0)
    proxy.drop_responses = 1  # the server stores the record, then its answer is lost

    result = netra.usage_send(_usage("lost-answer"))

    assert result is not None
    assert result.duplicate is True  # the retry found the stored record
    assert result.cost_usd == Decimal("0.0035")  # 1000 x 2.50 + 100 x 10.00 per million
    assert [r["request_id"] for r in stored(api)] == ["lost-answer"]
    assert netra.pending == 0
    netra.close(flush=False)


def test_background_flusher_delivers_when_the_server_returns(proxy, api):
    netra = NetraClient(proxy.url, api.raw_key, retries=0, timeout=5, flush_interval=0.05)
    proxy.stop()
    netra.usage_send(_usage("bg-1"))
    netra.usage_send(_usage("bg-2"))
    assert netra.pending == 2

    proxy.start()
    deadline = time.monotonic() + 10
    while netra.pending and time.monotonic() < deadline:
        time.sleep(0.02)

    assert netra.pending == 0
    assert sorted(r["request_id"] for r in stored(api)) == ["bg-1", "bg-2"]
    netra.close()


def test_flush_sends_large_buffers_in_batches(proxy, api):
    netra = NetraClient(proxy.url, api.raw_key, retries=0, timeout=5, flush_interval=0, batch_size=40)
    proxy.stop()
    for i in range(100):
        netra.usage_send(_usage(f"many-{i:03d}"))
    proxy.start()

    assert netra.flush() == 0

    assert len(stored(api)) == 100
    netra.close(flush=False)


def test_unreachable_server_never_breaks_the_agents_call(openai_client, api, caplog):
    netra = NetraClient(f"http://127.0.0.1:{_closed_port()}", "nk-any", retries=0, flush_interval=0)
    tracker = TokenTracker(netra, agent="triage")
    llm = wrap_openai(openai_client, tracker)

    with caplog.at_level(logging.WARNING, logger="netra_client"):
        response = llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert response.choices[0].message.content == "Hello there."
    assert netra.pending == 1
    assert "buffering usage" in caplog.text
    assert tracker.metrics["totals"]["unpriced_requests"] == 1
    netra.close(flush=False)


def test_buffer_is_bounded_and_drops_the_oldest_with_a_warning(caplog):
    netra = NetraClient(f"http://127.0.0.1:{_closed_port()}", "nk-any", retries=0, flush_interval=0,
                        max_buffer=2)
    with caplog.at_level(logging.WARNING, logger="netra_client"):
        for rid in ("old", "mid", "new"):
            netra.usage_send(_usage(rid))

    assert [r["request_id"] for r in netra.buffer.snapshot()] == ["mid", "new"]
    assert netra.buffer.dropped == 1
    assert "dropped the oldest, request_id=old" in caplog.text
    netra.close(flush=False)


def test_a_record_the_server_rejects_is_logged_not_buffered(netra, api, caplog):
    bad = {"request_id": "bad-1", "model": "gpt-4o", "usage": {"prompt_tokens": -5}}

    with caplog.at_level(logging.ERROR, logger="netra_client"):
        assert netra.usage_send(bad) is None

    assert netra.pending == 0
    assert "usage.prompt_tokens" in caplog.text
    assert stored(api) == []


def test_the_end_of_a_run_delivers_what_is_still_buffered(proxy, api, openai_client):
    netra = NetraClient(proxy.url, api.raw_key, retries=0, timeout=5, flush_interval=0)

    with TokenTracker(netra, agent="nightly", run_id="run-end") as tracker:
        llm = wrap_openai(openai_client, tracker)
        proxy.stop()
        llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert netra.pending == 1
        proxy.start()

    assert netra.pending == 0
    assert [r["cost_usd"] for r in stored(api, run_id="run-end")] == [OPENAI_COST]
    netra.close(flush=False)


def test_a_refused_key_keeps_usage_until_the_key_is_fixed(netra, api, caplog):
    good_key = netra.api_key
    netra.api_key = "nk-revoked"

    with caplog.at_level(logging.ERROR, logger="netra_client"):
        assert netra.usage_send(_usage("key-1")) is None

    assert netra.pending == 1
    assert "refused the API key" in caplog.text
    netra.api_key = good_key
    assert netra.flush() == 0
    assert [r["request_id"] for r in stored(api)] == ["key-1"]


def test_an_oversized_buffered_batch_is_split_and_only_the_bad_record_dropped(proxy, api, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000  # the live server runs in this process
    netra = NetraClient(proxy.url, api.raw_key, retries=0, timeout=5, flush_interval=0)
    proxy.stop()
    for rid in ("ok-1", "ok-2", "ok-3"):
        netra.usage_send(_usage(rid))
    netra.usage_send({**_usage("huge"), "metadata": {"blob": "x" * 30_000}})
    netra.usage_send(_usage("ok-4"))
    proxy.start()

    with caplog.at_level(logging.ERROR, logger="netra_client"):
        assert netra.flush() == 0

    assert sorted(r["request_id"] for r in stored(api)) == ["ok-1", "ok-2", "ok-3", "ok-4"]
    assert "dropped" in caplog.text and "'request_id': 'huge'" in caplog.text
    netra.close(flush=False)


class _HungServer:
    """Accepts connections and never answers, like a server stuck on a lock."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.connections = 0
        self.held: list[socket.socket] = []
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self.held.append(conn)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_hung_server_costs_the_agent_one_timeout_not_one_per_call(openai_client):
    hung = _HungServer()
    netra = NetraClient(f"http://127.0.0.1:{hung.sock.getsockname()[1]}", "nk-any", timeout=0.3, retries=0,
                        flush_interval=60)
    llm = wrap_openai(openai_client, TokenTracker(netra))

    answers = [llm.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
               for _ in range(3)]

    assert answers == ["Hello there."] * 3
    assert netra.pending == 3
    # Only the first call's check waited for a timeout: its usage and every later call's went
    # straight to the buffer, and later checks answered without asking (the flusher retries).
    assert hung.connections == 1
    netra.close(flush=False)
    hung.close()
