"""The rule lists each level applies, in order: phrase rules and articles (balanced), function words (aggressive)."""

from __future__ import annotations

from optimization.compression.phrases_clauses import CLAUSE_RULES, THAT_AFTER_VERB_RULES
from optimization.compression.phrases_requests import FORMAT_RULES, FRAMING_RULES, POLITENESS_RULES, STOCK_RULES
from optimization.compression.phrases_wordy import (
    CONNECTIVE_RULES,
    FILLER_RULES,
    VERB_FORM_RULES,
    WORDY_CONSTRUCTION_RULES,
    WORDY_PHRASE_RULES,
)

# (pattern, replacement) pairs. Patterns are lowercase regex fragments matched
# whole-word and case-insensitively; a leading ``^`` limits a rule to sentence
# openers. None contains a negation, a digit or an identifier (tests enforce
# that) except NEGATION_KEEPING_RULES, which put theirs back.
#
# Rules apply one after another in this order, and the order matters: a
# longer phrase must go before a shorter rule can eat part of it, and some
# rules feed later ones ("in spite of the fact that" -> "despite the fact
# that" -> "although").
PHRASE_RULES: list[tuple[str, str]] = (
    CLAUSE_RULES
    + STOCK_RULES
    + WORDY_CONSTRUCTION_RULES
    + VERB_FORM_RULES
    + CONNECTIVE_RULES
    + POLITENESS_RULES
    + FRAMING_RULES
    + FORMAT_RULES
    + WORDY_PHRASE_RULES
    + FILLER_RULES
    + THAT_AFTER_VERB_RULES
)

# Rules whose pattern holds a negation: each one sits in a group that the
# replacement puts back, so the negation itself always survives (tests check).
NEGATION_KEEPING_RULES: list[tuple[str, str]] = [
    (r"^you are (not) allowed to", r"do \1"),
    (r"^you are (never) allowed to", r"\1"),
]

# Articles go at balanced level: dropping them is the cheapest telegraphic
# saving and models read the result the same way.
ARTICLE_RULES: list[tuple[str, str]] = [
    (r"the", ""), (r"an?", ""), (r"just", ""), (r"also", ""), (r"any", ""),
]

# Aggressive only: function words whose loss leaves a telegraphic prompt.
# Modals that carry obligation or permission (must, may, can, should) and
# all negations stay, and so do words whose loss changes what is asked:
# "be" ("should be no longer than" is not "should no longer than"), "it" as an
# object ("make it sound"), "which" as a question word ("tell me which one"),
# "then", "here", "some" (a quantifier: "some users" are not all users),
# "would" and "could" (a hypothesis is not a fact: "this could break prod"),
# "of" ("owners of each item" is not "owners each item"; it saved 0.2 points),
# "in detail", and "do"/"have" as main verbs ("do the same", "has 5 apples").
FUNCTION_WORDS = (
    "that",
    "this",
    "these",
    "those",
    "is",
    "are",
    "was",
    "were",
    "its",
    "there",
    "you",
    "your",
    "i",
    "me",
    "my",
    "we",
    "our",
    "us",
    "also",
    "so",
    "just",
    "will",
    "any",
    "very",
    "note:",
    "remember:",
)
AGGRESSIVE_RULES: list[tuple[str, str]] = [
    # Auxiliaries go with the participle they carry: "has been upgraded" -> "upgraded".
    (r"(?:has|have|had) been", ""),
    (r"(?:is|are|was|were) being", ""),
    (r"(?:has|have|had)(?= [a-z]+ed\b)", ""),
    # Future "will be" goes whole ("beta will be limited" -> "beta limited"), never leaving a bare "be".
    (r"will be", ""),
    # "It is located near ..." -> "Located near ..."; "it" elsewhere is an object and stays.
    (r"it (?:is|was)", ""),
    # A relative "which" after a comma: ", which runs daily" -> ", runs daily".
    (r"(?<=,[ ])which", ""),
] + [(w, "") for w in FUNCTION_WORDS]

# Aggressive only, and like NEGATION_KEEPING_RULES the negation is put back:
# "do not reveal" -> "not reveal"; "do" elsewhere is a verb ("do the same") and stays.
AGGRESSIVE_NEGATION_KEEPING_RULES: list[tuple[str, str]] = [
    (r"(?:do|does|did) (not)", r"\1"),
]
