"""Question-aware compression and targets: what goes, what never goes, and the figures on the QA corpus."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bench.question_compression import retained, spans
from optimization.compression import compress
from optimization.context import fit_context
from optimization.relevance import bm25_scores, stem, terms
from tokens.tokenizer import count_text

QUESTION = "How long do I have to get a refund on an annual plan?"
PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know the answer, "
    "just say that you don't know, don't try to make up an answer.\n\n"
    "The refund window for annual plans is 30 days from the purchase date. After that, refunds are prorated.\n\n"
    "Our office in Lisbon opened in 2019. It hosts the support team and most of the data engineers. "
    "The building has a rooftop terrace.\n\n"
    "To export invoices, open Billing > Invoices and run `netra export --csv`. "
    "See https://docs.example.com/invoices for the columns.\n\n"
    f"Question: {QUESTION}\nHelpful Answer:"
)
CORPUS = [json.loads(line) for line in (Path(__file__).resolve().parents[2] / "bench" / "data" / "qa_corpus.jsonl")
          .read_text().splitlines()]


def count(text: str) -> int:
    return count_text(text, "gpt-4o").tokens


def test_bm25_ranks_the_passage_that_shares_rare_words_first():
    passages = ["Refunds for annual plans: 30 days.", "The office has a terrace.", "Plans are billed monthly."]

    scores = bm25_scores("refund annual plan", passages)

    assert scores[0] > scores[2] > scores[1] == 0.0
    assert stem("refunds") == stem("refunded") == stem("refund")
    assert stem("reversed") == stem("reverse")
    assert terms("License-Expression: redis_version") == ["licens", "expression", "redi", "version"]


def test_balanced_drops_irrelevant_material_but_keeps_instructions_question_and_protected_spans():
    result = compress(PROMPT, level="balanced", question=QUESTION)

    assert "Lisbon" not in result.text and "terrace" not in result.text
    assert "30 days" in result.text  # the answer
    assert "make up" in result.text and "Question: How long" in result.text and "Helpful Answer:" in result.text
    # Irrelevant, but it holds protected spans: balanced keeps them.
    assert "`netra export --csv`" in result.text and "https://docs.example.com/invoices" in result.text
    assert [text for text, _ in result.dropped] == [
        "Our office in Lisbon opened in 2019.",
        "It hosts the support team and most of the data engineers.",
        "The building has a rooftop terrace.",
    ]
    assert result.techniques[0] == "question_focus"


def test_aggressive_may_drop_protected_spans_of_irrelevant_material_never_split_them():
    result = compress(PROMPT, level="aggressive", question=QUESTION)

    assert "30 days" in result.text
    assert "https://docs.example.com/invoices" not in result.text
    assert "Question: How long" in result.text
    # The order of what stays is the input's.
    assert result.text.index("30 days") < result.text.index("Question:")


def test_without_a_question_nothing_is_dropped_for_relevance():
    assert compress(PROMPT, level="balanced").dropped == []
    assert compress(PROMPT, level="balanced").text == compress(PROMPT, level="balanced", question="").text


def test_a_target_is_met_when_it_can_be_and_says_what_went():
    original = count(PROMPT)

    result = compress(PROMPT, level="aggressive", question=QUESTION, target_tokens=int(0.6 * original), count=count)

    assert result.target_met is True and count(result.text) <= int(0.6 * original)
    assert "30 days" in result.text  # the least relevant went first
    assert "Lisbon" in " ".join(text for text, _ in result.dropped)


def test_balanced_keeps_protected_spans_even_for_a_target():
    result = compress(PROMPT, level="balanced", question=QUESTION, target_tokens=10, count=count)

    assert result.target_met is False
    assert "`netra export --csv`" in result.text and "https://docs.example.com/invoices" in result.text


def test_an_unreachable_target_is_reported_not_forced():
    result = compress(PROMPT, level="aggressive", question=QUESTION, target_tokens=5, count=count)

    assert result.target_met is False
    # Instructions and the question are never dropped to meet a target.
    assert "Question: How long" in result.text and "make up" in result.text


def test_context_fit_drops_the_least_relevant_history_first():
    messages = [
        {"role": "system", "content": "You are a billing assistant."},
        {"role": "user", "content": "Annual plans can be refunded within 30 days of purchase. " * 8},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "The office terrace is closed for painting this week. " * 8},
        {"role": "assistant", "content": "Thanks for letting me know."},
        {"role": "user", "content": "How long is the refund window?"},
    ]
    everything = fit_context(messages, model="gpt-4o", context_window=128_000).tokens

    result = fit_context(messages, model="gpt-4o", context_window=128_000, question="refund window annual plan",
                         ranker=bm25_scores, target_tokens=everything - 50)

    assert result.target_met is True
    assert 3 in result.dropped_indices and 1 not in result.dropped_indices
    assert result.messages[-1] == messages[-1] and result.messages[0] == messages[0]


def test_qa_corpus_targets_hold():
    """The issue's targets on bench/data/qa_corpus.jsonl (bench/question_compression.py prints the same)."""
    figures = {}
    for level in ("balanced", "aggressive"):
        reductions, kept, spans_kept = [], 0, 0
        for row in CORPUS:
            result = compress(row["prompt"], level=level, question=row["question"])
            before = count(row["prompt"])
            reductions.append(100.0 * (before - count(result.text)) / before)
            kept += all(retained(a, result.text) for a in row["answers"])
            spans_kept += spans(compress(row["prompt"], level="light").text) <= spans(result.text)
        figures[level] = (statistics.median(reductions), kept / len(CORPUS), spans_kept / len(CORPUS))

    assert figures["balanced"][0] >= 25.0
    assert figures["aggressive"][0] >= 50.0
    assert figures["aggressive"][1] >= 0.95
    assert figures["balanced"][1] >= 0.9
    assert figures["balanced"][2] == 1.0  # every protected span the lossless level keeps


def test_python_dunder_names_are_not_markdown_emphasis():
    text = 'Attribute lookups use "m.__dict__" and __init__ runs first; __really important__ is emphasis.'

    out = compress(text, level="balanced").text

    assert "m.__dict__" in out and "__init__" in out and "__really important__" not in out


@pytest.mark.parametrize("layout", sorted({row["layout"] for row in CORPUS}))
def test_every_layout_keeps_its_instructions_and_question(layout):
    for row in [r for r in CORPUS if r["layout"] == layout]:
        result = compress(row["prompt"], level="aggressive", question=row["question"])
        assert row["question"].strip() in result.text, row["id"]
