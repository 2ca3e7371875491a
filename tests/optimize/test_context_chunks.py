"""Context fitting and token-exact chunking, through the API."""

from __future__ import annotations

import pytest

from optimization import chunking
from optimization.chunking import chunk_text
from optimization.context import ContextTooSmall, fit_context
from optimization.models import SavingsRecord
from tokens.tokenizer import count_messages, count_text

MODEL = "gpt-4o"


def _history(n: int, words: int = 40) -> list[dict]:
    msgs = [{"role": "system", "content": "You are terse."}]
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append({"role": role, "content": f"Message {i}. " + "word " * words})
    return msgs


def test_keeps_system_and_newest_and_drops_oldest_whole_messages():
    msgs = _history(10)
    per = count_messages([msgs[1]], MODEL).tokens - 3
    window = 1000
    # budget = 0.9*1000 - 700 = 200 tokens: room for a few messages only
    result = fit_context(msgs, model=MODEL, context_window=window, max_response_tokens=700, safety_margin=0.9)
    assert result.budget == 200
    assert result.messages[0] == msgs[0]
    assert result.messages[-1] == msgs[-1]
    assert result.tokens == count_messages(result.messages, MODEL).tokens <= 200
    kept_original = [m for m in result.messages if m in msgs]
    # what survives is a suffix of the history, in order
    assert kept_original[1:] == msgs[len(msgs) - len(kept_original) + 1 :]
    assert per > 0 and result.dropped > 5 and result.summary_inserted is True
    summary = result.messages[1]
    assert summary["role"] == "system" and summary["content"].startswith(
        f"Summary of {result.dropped} earlier messages (extractive):\n- user: Message 0."
    )


def test_no_summary_when_at_most_half_is_dropped():
    msgs = _history(4, words=100)
    total = count_messages(msgs, MODEL).tokens
    one = count_messages([msgs[1]], MODEL).tokens - 3
    budget = total - one  # drop exactly the oldest history message
    result = fit_context(
        msgs, model=MODEL, context_window=budget + 100, max_response_tokens=100, safety_margin=1.0
    )
    assert result.dropped == 1 and result.dropped_indices == [1]
    assert result.summary_inserted is False
    assert result.messages == [msgs[0]] + msgs[2:]


def test_tool_call_and_its_results_go_together():
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
    }
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi " * 50},
        call,
        {"role": "tool", "tool_call_id": "c1", "content": "result " * 50},
        {"role": "user", "content": "next " * 50},
        {"role": "user", "content": "newest"},
    ]
    sizes = [count_messages([m], MODEL).tokens - 3 for m in msgs]
    base = count_messages([msgs[0], msgs[-1]], MODEL).tokens
    budget = base + sizes[4] + sizes[3] - 5  # the tool result alone would fit, the pair does not
    result = fit_context(msgs, model=MODEL, context_window=budget, max_response_tokens=0, safety_margin=1.0)
    assert call not in result.messages and msgs[3] not in result.messages
    assert msgs[4] in result.messages


def test_too_small_raises_with_numbers():
    msgs = [{"role": "system", "content": "word " * 300}, {"role": "user", "content": "hi"}]
    with pytest.raises(ContextTooSmall) as err:
        fit_context(msgs, model=MODEL, context_window=200, max_response_tokens=0, safety_margin=1.0)
    assert err.value.budget == 200 and err.value.required == count_messages(msgs, MODEL).tokens


def test_context_api_fits_and_records_saving(api, user):
    msgs = _history(400, words=200)  # ~85k tokens against gpt-4o's 128k window is fine; make it overflow:
    msgs = _history(1000, words=200)
    res = api.post("/api/v1/optimize/context", {"model": MODEL, "messages": msgs}, format="json")
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["budget"] == int(0.9 * 128000) - 2000
    assert (
        body["tokens"] <= body["budget"] and body["tokens"] == count_messages(body["messages"], MODEL).tokens
    )
    assert body["messages"][-1] == msgs[-1] and body["dropped"] > 0
    rec = SavingsRecord.objects.get(user=user)
    assert (rec.technique, rec.original_tokens, rec.optimized_tokens) == (
        "context_fit",
        body["original_tokens"],
        body["tokens"],
    )


def test_context_api_422_with_numbers(api):
    msgs = [{"role": "system", "content": "word " * 100}, {"role": "user", "content": "hi"}]
    res = api.post(
        "/api/v1/optimize/context",
        {"model": MODEL, "messages": msgs, "max_response_tokens": 127990, "safety_margin": 1.0},
        format="json",
    )
    assert res.status_code == 422
    err = res.json()["error"]
    assert err["code"] == "context_too_small"
    assert err["fields"]["budget"] == 10
    assert err["fields"]["required_tokens"] == count_messages(msgs, MODEL).tokens


TEXT = (
    "First paragraph has two sentences. Here is the second one!\n\n"
    "Second paragraph: " + "lorem ipsum dolor sit amet " * 60 + "\n\n\n"
    "Unicode: naïve café — 東京 😀😀😀 " * 20 + "\n\nLast."
)


@pytest.mark.parametrize("max_tokens", [4, 7, 25, 64, 300])
@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "claude-3-5-sonnet"])
def test_chunks_fit_exactly_and_join_back(max_tokens, model):
    chunks = chunk_text(TEXT, model=model, max_tokens=max_tokens)
    assert "".join(c.text for c in chunks) == TEXT
    assert all(c.tokens == count_text(c.text, model).tokens <= max_tokens for c in chunks)
    assert all(TEXT[c.start : c.end] == c.text for c in chunks)


def test_chunks_split_on_paragraphs_first():
    text = "Alpha one. Alpha two.\n\nBeta one. Beta two.\n\nGamma."
    para = count_text("Alpha one. Alpha two.\n\n", MODEL).tokens
    chunks = chunk_text(text, model=MODEL, max_tokens=para)
    assert [c.text for c in chunks][0] == "Alpha one. Alpha two.\n\n"
    small = chunk_text(text, model=MODEL, max_tokens=4)
    assert small[0].text == "Alpha one. "


def test_chunk_overlap_repeats_the_tail_and_stays_under_max():
    chunks = chunk_text(TEXT, model=MODEL, max_tokens=50, overlap_tokens=10)
    assert all(c.tokens <= 50 for c in chunks)
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        assert cur.start < prev.end and TEXT[cur.start : cur.end] == cur.text


def test_chunks_api(api):
    res = api.post(
        "/api/v1/optimize/chunks", {"model": MODEL, "text": TEXT, "max_tokens_per_chunk": 40}, format="json"
    )
    assert res.status_code == 200
    body = res.json()
    assert "".join(c["text"] for c in body["chunks"]) == TEXT
    assert max(c["tokens"] for c in body["chunks"]) <= 40 and body["count"] == len(body["chunks"])
    bad = api.post(
        "/api/v1/optimize/chunks",
        {"model": MODEL, "text": "x", "max_tokens_per_chunk": 5, "overlap_tokens": 5},
        format="json",
    )
    assert bad.status_code == 400 and "overlap_tokens" in bad.json()["error"]["fields"]


def test_one_token_chunks_of_ascii_text_join_back():
    text = "Plain ASCII words, split at every token."
    chunks = chunk_text(text, model=MODEL, max_tokens=1)
    assert [c.text for c in chunks] == [
        "Plain",
        " ASCII",
        " words",
        ",",
        " split",
        " at",
        " every",
        " token",
        ".",
    ]


def test_a_limit_below_one_character_is_an_error(api):
    res = api.post(
        "/api/v1/optimize/chunks", {"model": "gpt-4", "text": "😀", "max_tokens_per_chunk": 1}, format="json"
    )
    assert res.status_code == 400
    assert res.json()["error"]["fields"] == {
        "max_tokens_per_chunk": ["max_tokens_per_chunk is too small to hold a single character."]
    }


def test_context_api_unknown_model_is_400(api):
    res = api.post(
        "/api/v1/optimize/context",
        {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
        format="json",
    )
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "unknown_model"


def test_newest_tool_result_keeps_its_call():
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    result_msg = {"role": "tool", "tool_call_id": "c9", "content": "42"}
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "old " * 200}, call, result_msg]
    budget = count_messages([msgs[0], call, result_msg], MODEL).tokens
    result = fit_context(msgs, model=MODEL, context_window=budget, max_response_tokens=0, safety_margin=1.0)
    assert result.messages[-2:] == [call, result_msg] and result.dropped == 1


def test_chunking_counts_each_piece_a_bounded_number_of_times(monkeypatch):
    """Packing must stay linear: it once re-counted the growing chunk for every piece."""

    calls = {"n": 0, "chars": 0}

    def counting(text, model):
        calls["n"] += 1
        calls["chars"] += len(text)
        return count_text(text, model)

    monkeypatch.setattr(chunking, "count_text", counting)
    text = "".join(f"Sentence number {i} is short. " for i in range(2000))
    chunks = chunk_text(text, model="gpt-4o", max_tokens=400)
    assert "".join(c.text for c in chunks) == text
    assert all(c.tokens <= 400 for c in chunks)
    # Each character is read a small constant number of times, not once per piece of its chunk.
    assert calls["chars"] < 8 * len(text)
