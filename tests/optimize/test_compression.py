"""Compression guarantees, checked property-style over the whole benchmark corpus."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from tokens.optimize import compression
from tokens.optimize.compression import LEVELS, NEGATIONS, fenced_blocks
from tokens.optimize.phrase_rules import AGGRESSIVE_RULES, ARTICLE_RULES, PHRASE_RULES
from tokens.optimize.preservation import json_blocks, preservation_report


@functools.cache
def _cached(text: str, level: str, max_examples: int):
    return compression.compress(text, level=level, max_examples=max_examples)


def compress(text: str, *, level: str = "balanced", max_examples: int = 2):
    """The real compress, memoized: the corpus is compressed once per level for all tests."""
    return _cached(text, level, max_examples)


CORPUS = [
    json.loads(line)
    for line in (Path(__file__).resolve().parents[2] / "bench" / "data" / "corpus.jsonl")
    .read_text()
    .splitlines()
]


def test_corpus_has_at_least_200_varied_prompts():
    assert len(CORPUS) >= 200
    assert {r["category"] for r in CORPUS} == {"system", "fewshot", "rag_json", "code", "verbose"}
    assert len({r["prompt"] for r in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("level", LEVELS)
def test_every_guarantee_holds_on_every_corpus_prompt(level):
    failures = []
    for row in CORPUS:
        result = compress(row["prompt"], level=level)
        report = preservation_report(row["prompt"], result)
        if not all(report.values()):
            failures.append((row["id"], [k for k, v in report.items() if not v]))
    assert failures == []


@pytest.mark.parametrize("level", LEVELS)
def test_compressing_twice_equals_once_on_every_corpus_prompt(level):
    unstable = [
        r["id"]
        for r in CORPUS
        if compress(compress(r["prompt"], level=level).text, level=level).text
        != compress(r["prompt"], level=level).text
    ]
    assert unstable == []


@pytest.mark.parametrize("level", LEVELS)
def test_fenced_code_is_byte_identical(level):
    for row in CORPUS:
        if "```" not in row["prompt"]:
            continue
        out = compress(row["prompt"], level=level).text
        for start, end in fenced_blocks(row["prompt"]):
            assert row["prompt"][start:end] in out


def test_json_blocks_parse_to_the_same_values():
    prompt = (
        'Please could you check this:\n\n{\n  "a": [1, 2.50, 1e3],\n'
        '  "b": "please  could you",\n  "c": null\n}'
    )
    result = compress(prompt, level="aggressive")
    assert result.text.endswith('{"a":[1,2.50,1e3],"b":"please  could you","c":null}')
    assert json_blocks(result.text) == [{"a": [1, 2.5, 1000.0], "b": "please  could you", "c": None}]


def test_the_plans_phrase_rules():
    assert compress("Please could you summarize the report.", level="balanced").text == "Summarize report."
    assert compress("Your task is to classify tickets.", level="balanced").text == "Task: classify tickets."
    assert compress("Return the result in JSON format:", level="balanced").text == "Return result JSON:"
    assert compress("Reply in JSON format.", level="balanced").text == "Reply as JSON."


def test_rules_match_whole_words_only_and_respect_case():
    out = compress("Use veryLongName and the_very_flag; please_could_you stays.", level="balanced").text
    assert out == "Use veryLongName and the_very_flag; please_could_you stays."
    assert compress("In order to win, train daily.", level="balanced").text == "To win, train daily."


def test_light_is_lossless_whitespace_and_repeats_only():
    prompt = "Do  this   now.  \n\n\n\nAlways cite the source document.\nAlways cite the source document.\n"
    assert compress(prompt, level="light").text == "Do this now.\n\nAlways cite the source document."


def test_negations_are_never_removed():
    prompt = (
        "It is very important that you do not share keys. Never guess. Please don't reply in French, "
        "and do not include no-op steps. You cannot skip tests. Basically nothing else matters."
    )
    for level in LEVELS:
        out = compress(prompt, level=level).text.lower()
        for word in ("not", "never", "don't", "cannot", "nothing"):
            assert out.count(word) == prompt.lower().count(word), (level, word)


def test_no_rule_pattern_contains_a_negation_or_digit():
    for pattern, _ in PHRASE_RULES + ARTICLE_RULES + AGGRESSIVE_RULES:
        words = set(re.findall(r"[a-z']+", pattern))
        assert not words & NEGATIONS and "n't" not in pattern and not re.search(r"\d", pattern), pattern


def test_numbers_urls_emails_identifiers_and_quotes_survive():
    prompt = (
        "Please could you email ops@example.com about order #88123 (total $1,234.50) and check "
        'https://example.com/a?b=1. Basically use `max_tokens` and getUserId, and keep "the exact phrase".'
    )
    for level in LEVELS:
        out = compress(prompt, level=level).text
        for item in (
            "ops@example.com",
            "88123",
            "$1,234.50",
            "https://example.com/a?b=1",
            "`max_tokens`",
            "getUserId",
            '"the exact phrase"',
        ):
            assert item in out, (level, item)


def test_aggressive_keeps_only_the_first_examples():
    prompt = (
        "Classify the sentiment.\n\nReview: great\nSentiment: positive\n\nReview: awful\nSentiment: negative"
        "\n\nReview: fine\nSentiment: neutral\n\nReview: meh\nSentiment: neutral"
        "\n\nReview: new one\nSentiment:"
    )
    result = compress(prompt, level="aggressive", max_examples=2)
    assert result.text == (
        "Classify sentiment.\n\nReview: great\nSentiment: positive\n\nReview: awful\n"
        "Sentiment: negative\n\nReview: new one\nSentiment:"
    )
    assert result.removed_examples == ["Review: fine\nSentiment: neutral", "Review: meh\nSentiment: neutral"]
    assert "fewshot_prune" in result.techniques


def test_techniques_are_reported_in_order():
    result = compress('Please   summarize:\n\n{ "a": 1 }', level="balanced")
    assert result.techniques == ["json_compact", "whitespace", "phrase_rules"]


def test_reduction_per_level_grows():
    def tokens(text):
        from tokens.tokenizer import count_text

        return count_text(text, "gpt-4o").tokens

    total = sum(tokens(r["prompt"]) for r in CORPUS)
    by_level = [sum(tokens(compress(r["prompt"], level=lv).text) for r in CORPUS) for lv in LEVELS]
    assert total > by_level[0] > by_level[1] > by_level[2]


def test_sentence_opener_rules_apply_only_at_a_sentence_start():
    assert compress("You should cite sources.", level="balanced").text == "Cite sources."
    assert compress("List what you should cite.", level="balanced").text == "List what you should cite."
    assert compress("- you need to log in first", level="balanced").text == "- Log in first"


def test_input_that_defeats_json_detection_comes_back_unchanged():
    nested = "Please could you check " + "[" * 5000 + " this"
    assert compress(nested, level="balanced").text == nested
    unbalanced = 'Please could you check {"' * 300
    assert compress(unbalanced, level="aggressive").text == unbalanced
