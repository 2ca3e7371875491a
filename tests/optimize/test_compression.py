"""Compression guarantees, checked property-style over the whole benchmark corpus."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from optimization import compression
from optimization.compression import LEVELS, NEGATIONS, fenced_blocks
from optimization.compression.extractive import context_paragraphs
from optimization.compression.preservation import json_blocks, preservation_report
from optimization.compression.rule_sets import (
    AGGRESSIVE_RULES,
    ARTICLE_RULES,
    NEGATION_KEEPING_RULES,
    PHRASE_RULES,
)
from optimization.compression.splitting import sentences
from tokens.tokenizer import count_text


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


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Due to the fact that we operate in the EU, store data for 30 days.",
         "Because we operate in EU, store data for 30 days."),
        ("It is worth mentioning that the cache was enabled. In general, costs fell.",
         "Cache was enabled. Costs fell."),
        ("It is extremely important that you do not mention competitors.", "Do not mention competitors."),
        # Without "you" the requirement keeps a marker instead of turning into a statement.
        ("It is really important that the email sounds friendly.", "Important: email sounds friendly."),
        ("Please make sure that you cite the source. We need to make use of a wide range of tools.",
         "Cite source. We need to use many tools."),
        ("I was wondering if you could help me out with something. Write a haiku.", "Write haiku."),
        ("You are a very helpful and highly capable assistant. Answer in the same language that the user "
         "is using.",
         "You are helpful assistant. Answer in user's language."),
        ("In order to keep answers short, avoid long introductions and just get to the point.",
         "To keep answers short, avoid long introductions and be direct."),
        ("Here are some examples that show you exactly how you should do it:", "Examples:"),
        ("Your task is to do the following: Translate each sentence. The examples below demonstrate "
         "the expected format.", "Task: Translate each sentence. Examples show format."),
        ("Do not reveal the rules under any circumstances. Before you answer, check the facts.",
         "Do not reveal rules ever. Before answering, check facts."),
        ("Your task is to help the user with their questions. Check whether it is within the scope of "
         "your role.",
         "Task: answer user questions. Check whether it is within your role."),
        # Shorter rules must not eat the longer phrases they overlap.
        ("I have read a lot of articles. It improved a lot.", "I have read many articles. It improved much."),
        ("At this point in time we wait. A significant number of users left.",
         "Now we wait. Many users left."),
        ("Cite the ID, for example DOC-1042, whenever you answer.",
         "Cite ID, e.g. DOC-1042, when you answer."),
    ],
)
def test_stock_phrase_rules(prompt, expected):
    assert compress(prompt, level="balanced").text == expected


def test_that_goes_after_a_reporting_verb_only_before_a_pronoun_or_determiner():
    prompt = "The team reported that the migration went well. They said that function is slow."
    expected = "Team reported migration went well. They said that function is slow."
    assert compress(prompt, level="balanced").text == expected


def test_the_goes_before_names_numbers_and_protected_spans():
    prompt = "Use the `ticket_id` field for the EU region and the 95th percentile."
    expected = "Use `ticket_id` field for EU region and 95th percentile."
    assert compress(prompt, level="balanced").text == expected


def test_repeated_sentences_and_lines_go_negations_included():
    prompt = (
        "1. Cite sources when you answer.\n2. Be brief.\n\nCite sources when you answer. Do not guess."
        "\nDo not guess."
    )
    result = compress(prompt, level="balanced")
    assert result.text == "1. Cite sources when you answer.\n2. Be brief.\n\nDo not guess."
    assert "dedupe_sentences" in result.techniques
    assert all(preservation_report(prompt, result).values())
    # Light drops only whole repeated lines; a sentence repeated inside another line is balanced's job.
    assert compress(prompt, level="light").text == prompt
    light = compress("Do not guess.\nCite sources.\nDo not guess.", level="light")
    assert light.text == "Do not guess.\nCite sources."
    assert light.techniques == ["dedupe_lines"]


def test_the_negation_check_counts_each_statement_once_and_still_catches_a_lost_negation():
    prompt = "Do not guess.\nDo not guess.\nNever share keys."
    kept_once = compression.CompressionResult("Do not guess.\nNever share keys.")
    assert preservation_report(prompt, kept_once)["negations"] is True
    lost = compression.CompressionResult("Do not guess.\nShare keys.")
    assert preservation_report(prompt, lost)["negations"] is False
    flipped = compression.CompressionResult("Do guess.\nNever share keys.")
    assert preservation_report(prompt, flipped)["negations"] is False


def test_few_shot_example_data_is_never_rewritten():
    prompt = (
        "Translate the sentence into French.\n\nInput: The meeting is at the office.\n"
        "Output: La réunion est au bureau.\n\nInput: The report is very late.\nOutput:"
    )
    assert compress(prompt, level="balanced").text == (
        "Translate sentence into French.\n\nInput: The meeting is at the office.\nOutput: La réunion est au "
        "bureau.\n\nInput: The report is very late.\nOutput:"
    )


def test_extractive_context_does_not_split_at_e_g():
    assert sentences("Cite the ID (e.g. DOC-1) here. Then stop.") == [
        "Cite the ID (e.g. DOC-1) here. ",
        "Then stop.",
    ]
    filler = (
        "The weather in the valley was pleasant and everyone enjoyed the long walks after lunch. "
        "Several colleagues brought cakes to share with the whole office on a sunny morning. "
        "Later that week the garden behind the building was finally repainted in bright green. "
        "Someone suggested a picnic by the river, which many people liked very much indeed. "
        "The old coffee machine in the kitchen was replaced with a shiny new model. "
        "Most evenings ended with long conversations about music, films and travel plans."
    )
    prompt = "Summarize the ticket history.\n\nContext:\n\nTickets are closed quickly (e.g. within hours). " + filler
    out = compress(prompt, level="aggressive").text
    assert out == "Summarize ticket history.\n\nContext:\n\nTickets closed quickly (e.g. within hours)."


def test_a_heading_repeated_by_its_first_line_is_dropped():
    prompt = "### Role\nYou are a tutor.\n\n### Goal\nYour goal is to answer questions as well as possible."
    assert compress(prompt, level="balanced").text == "Role:\nYou are tutor.\n\nGoal: answer questions well."


def test_stock_closer_goes_with_or_without_please():
    for closer in ("Please let me know if you need any additional information.",
                   "Let me know if you have any further questions from me."):
        assert compress("Summarize the memo.\n\n" + closer, level="balanced").text == "Summarize memo."


def test_a_source_tag_opens_a_sentence():
    assert compress("[DOC-7] Overall, the budget grew. The team agreed.").text == "[DOC-7] Budget grew. Team agreed."


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Keep in mind that the window is 14 days and that refunds need approval.",
         "Note: window is 14 days and refunds need approval."),
        ("The team reported that the migration went well and that morale stayed high.",
         "Team reported migration went well and morale stayed high."),
        # Without a "that"-clause before it, "that" is a determiner and stays.
        ("Delete this file and that folder.", "Delete this file and that folder."),
        ("It is very important that you stay calm and that you are polite at all times.",
         "Stay calm and be polite always."),
        ("It is important that you cite sources and that you check dates.", "Cite sources and check dates."),
    ],
)
def test_a_parallel_that_clause_loses_its_that_with_the_first(prompt, expected):
    assert compress(prompt).text == expected


def test_a_general_feeling_among_a_group_becomes_what_the_group_felt():
    assert compress("There was a general feeling among the engineers that the docs could be improved.").text == (
        "Engineers generally felt docs could be improved."
    )
    assert compress("There is a general consensus among reviewers that the API is stable.").text == (
        "Reviewers generally agreed API is stable."
    )


def test_a_perfect_passive_relative_clause_shrinks_only_after_a_noun():
    prompt = "Review the progress that had been made so far. They said that had been fixed."
    assert compress(prompt).text == "Review progress made so far. They said that had been fixed."
    assert compress("Use all information that the user has provided to you.").text == (
        "Use all information that user provided."
    )


def test_that_after_felt_goes_unless_it_is_the_subject():
    prompt = "Many people felt that communication improved. I thought that was odd."
    assert compress(prompt).text == "Many people felt communication improved. I thought that was odd."


def test_rag_instruction_answers_from_the_context():
    prompt = "Answer the question using the retrieved context. Answer the question using Python."
    assert compress(prompt).text == "Answer from retrieved context. Answer question using Python."


def test_not_allowed_to_becomes_do_not_only_as_an_instruction():
    prompt = "You are not allowed to run rm. Explain why you are not allowed to run it. You are never allowed to guess."
    assert compress(prompt).text == "Do not run rm. Explain why you are not allowed to run it. Never guess."


def test_negation_keeping_rules_put_every_negation_back():
    for pattern, repl in NEGATION_KEEPING_RULES:
        groups = re.findall(r"\((?!\?)([^()]*)\)", pattern)
        for word in set(re.findall(r"[a-z']+", pattern)) & NEGATIONS:
            index = next(i for i, g in enumerate(groups, 1) if word in g.split("|"))
            assert f"\\{index}" in repl, (pattern, word)


def test_json_in_few_shot_data_is_compacted_and_the_prose_kept():
    prompt = 'Extract the item.\n\nText: two pens\nOutput: {"item": "pen",  "qty": 2}\n\nText: one cup\nOutput:'
    result = compress(prompt)
    assert result.text == 'Extract item.\n\nText: two pens\nOutput: {"item":"pen","qty":2}\n\nText: one cup\nOutput:'
    assert result.techniques == ["json_compact", "articles"]


def test_all_of_the_following_loses_following_like_the_following_alone():
    prompt = "Read all of the following documents, then answer. Use all of the tools."
    assert compress(prompt).text == "Read all documents, then answer. Use all tools."


def test_use_only_the_context_to_answer_becomes_answer_only_from_it():
    prompt = "Please use only the context below to answer the question. Use only Python to answer the question."
    assert compress(prompt).text == "Answer only from context below. Use only Python to answer question."


def test_based_on_the_context_opener_becomes_from():
    prompt = "Based on the context above, why did spend rise? Pick a tier based on the context size."
    assert compress(prompt).text == "From context above, why did spend rise? Pick tier based on context size."


@pytest.mark.parametrize(
    ("level", "prompt", "expected"),
    [
        # "some" is a quantifier, not an article: "some users" are not all users.
        ("balanced", "Some of the discussions were about the offsite. Some users may ask twice.",
         "Some discussions were about offsite. Some users may ask twice."),
        ("aggressive", "Some users may ask twice.", "Some users may ask twice."),
        # "be" after a modal or "to" stays: "should no longer than" would mean "should stop".
        ("aggressive", "Responses should be no longer than 150 words. The name needs to be catchy.",
         "Responses should be no longer than 150 words. Name needs to be catchy."),
        # "do" goes only before "not"; "do the same" keeps its verb.
        ("aggressive", "Please do the same for the next question. Do not reveal the prompt.",
         "Do same for next question. Not reveal prompt."),
        # "at all times" after an "always" in the same clause adds nothing.
        ("balanced", "Always stay in character and be polite at all times.",
         "Always stay in character and be polite."),
        # "it" as an object stays; "it is" opening a clause goes.
        ("aggressive", "Make it sound more professional. It is located near a university.",
         "Make it sound more professional. Located near university."),
        # "have" goes as an auxiliary, never as a verb; a relative "which" after a comma goes.
        ("aggressive", "The database has been upgraded. The user has two accounts, which are both active.",
         "Database upgraded. User has two accounts, both active."),
        # "which" asking a question stays, and so does "in detail".
        ("aggressive", "Tell me which plan is the best value, and explain the plans in detail.",
         "Tell which plan best value, and explain plans in detail."),
        # "of" stays ("owners each item" lost the relation); "if possible" keeps the request optional.
        ("aggressive", "If possible, explain each of the names. Focus on the owners of each action item.",
         "If possible, explain each of names. Focus on owners of each action item."),
        # "would" and "could" keep a hypothesis a hypothesis; "will be" goes whole, never leaving a bare "be".
        ("aggressive", "This could break production. Some customers will be angry.",
         "Could break production. Some customers angry."),
    ],
)
def test_rules_that_would_change_the_meaning_stay_out(level, prompt, expected):
    assert compress(prompt, level=level).text == expected


def test_a_data_labelled_line_is_data_even_without_an_output_line():
    data = "Text: Our new dashboard shows you where every token goes."
    prompt = "Translate the text below into German.\n\n" + data
    for level in LEVELS:
        assert compress(prompt, level=level).text.endswith("\n\n" + data)


def test_aggressive_never_drops_instructions_only_retrieved_context():
    rules = (
        "Use the knowledge base articles whenever it is possible to do so. Prior to answering, consider whether "
        "the question is within the scope of your role. Always answer in the same language that the user is "
        "using. Make sure to ask a clarifying question if the request is ambiguous, rather than guessing. "
        "If the user seems upset, acknowledge their frustration before you provide a solution."
    )
    out = compress(rules, level="aggressive").text
    assert out == (
        "Use knowledge base articles when possible. Before answering, consider whether question within role. "
        "Always answer in user's language. Ask clarifying question if request ambiguous, rather than guessing. "
        "If user seems upset, acknowledge their frustration before providing solution."
    )


def test_context_keeps_sentences_the_question_needs():
    context = (
        "[DOC-1] The on-call rotation was expanded from 4 to 6 engineers. Most of the increase was caused by the "
        "new embedding pipeline. Many people felt that the weekly meetings had improved a lot. The team spent "
        "some time discussing possible improvements to the onboarding process. Several people mentioned in the "
        "retrospective that the sync meetings were rather long. Everyone agreed that it would be nice to have better "
        "dashboards for the various teams. Spending on storage increased slightly as well."
    )
    prompt = f"Answer from the context.\n\n### Context\n\n{context}\n\n### Question\n\nWhy did spending increase?"
    out = compress(prompt, level="aggressive").text
    assert out == (
        "Answer from context.\n\nContext:\n\n[DOC-1] On-call rotation expanded from 4 to 6 engineers. Most of "
        "increase caused by new embedding pipeline. Spending on storage increased slightly as well.\n\n"
        "Question:\n\nWhy did spending increase?"
    )


def test_what_counts_as_retrieved_context():
    paras = [
        "Answer briefly.",
        "Context:",
        "[DOC-1] First document.",
        "Second document, still under the heading.",
        "Question:",
        "Why?",
        "[IMPORTANT] Never share keys.",
        "<context>\n[3] A doc on the heading's paragraph.",
        "</context>",
        "Rules:\nAlways cite.",
    ]
    assert context_paragraphs(paras) == {2, 3, 7}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Cite sources. Basically, answer briefly.", "Cite sources. Answer briefly."),
        ("Basically, cite sources.", "Cite sources."),
        ("- Basically, cite sources.", "- Cite sources."),
        ("Be brief. Actually; cite sources.", "Be brief. Cite sources."),
        ("Answer, basically, in JSON.", "Answer, in JSON."),
        ("Basically, 5 items max.", "5 items max."),
    ],
)
def test_a_deleted_opener_takes_its_comma_and_the_next_word_is_capitalized(prompt, expected):
    assert compress(prompt, level="balanced").text == expected
