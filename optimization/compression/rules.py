"""The rule engine: whole-word, case-aware rewriting, re-capitalizing a sentence whose opener went."""

from __future__ import annotations

import re

from optimization.compression.rule_sets import (
    AGGRESSIVE_NEGATION_KEEPING_RULES,
    AGGRESSIVE_RULES,
    ARTICLE_RULES,
    NEGATION_KEEPING_RULES,
    PHRASE_RULES,
)

Rule = tuple[re.Pattern, str, bool, str]

_LEFT = r"(?<![\w\-./@'’\ue001])"
_RIGHT = r"(?![\w\-/@\ue000]|['’]\w)"


def _literal(pattern: str) -> str:
    """A lowercase word every match must contain, to skip rules cheaply ("" if none)."""
    m = re.match(r"\^?([a-z']+)", pattern)
    if not m:
        return ""
    word = m.group(1)
    if pattern[m.end():m.end() + 1] in ("?", "*", "{"):
        word = word[:-1]
    return word


def _compile(rules: list[tuple[str, str]], *, need_word_after: bool = False, after: str = "") -> list[Rule]:
    """A leading ``^`` in a pattern means: only where it opens a sentence."""
    if need_word_after:
        after = r"(?=\s+[a-z])"
    return [
        (
            re.compile(_LEFT + pattern.lstrip("^").replace(" ", r"\s+") + _RIGHT + after, re.IGNORECASE),
            repl,
            pattern.startswith("^"),
            _literal(pattern),
        )
        for pattern, repl in rules
    ]


PHRASES = _compile(PHRASE_RULES + NEGATION_KEEPING_RULES)
# Single words go only before a plain lowercase word, never before a
# placeholder, number or symbol ("a > b" keeps its "a").
ARTICLES = _compile(ARTICLE_RULES, need_word_after=True)
# "the" also goes before a name, number or protected span ("the EU", "the 95th
# percentile", "the `ticket_id` field"): unlike "a", it is never a symbol itself.
THE = _compile([(r"the", "")], after=r"(?=[ \t]+(?:[A-Za-z0-9]|\ue000))")
AGGRESSIVE = _compile(AGGRESSIVE_RULES + AGGRESSIVE_NEGATION_KEEPING_RULES, need_word_after=True)


def apply_rules(text: str, rules: list[Rule]) -> str:
    """Apply ``rules`` in order, then tidy the seams the deletions leave behind."""
    lower = text.lower()
    for pattern, repl, start_only, literal in rules:
        if literal and literal not in lower:
            continue  # most rules never apply; a substring test is far cheaper than a regex pass
        new = pattern.sub(lambda m, r=repl, so=start_only: _case(m, r, so), text)
        if new != text:
            text, lower = new, new.lower()
    text = _capitalize_marks(text)
    # Tidy the seams deletions leave behind.
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"(?m)^([ \t]*(?:[-*+][ \t]+|\d+[.)][ \t]+)?)[ \t]+", r"\1", text)
    text = re.sub(r" +([,.;:!?)])", r"\1", text)
    text = re.sub(r"([,;:])(?:[ \t]*[,;])+", r"\1", text)  # "Answer, basically, in JSON" -> "Answer, in JSON"
    text = re.sub(r"(?m)^([ \t]*(?:[-*+][ \t]+|\d+[.)][ \t]+)?)[,;]\s*", r"\1", text)
    text = re.sub(r"([(\[]) +", r"\1", text)
    text = re.sub(r":[ \t]*\.", ":", text)
    text = re.sub(r",\s*([.!?])", r"\1", text)
    text = re.sub(r"(?m)^[ \t]*[.!,]+[ \t]*$", "", text)
    return text


_CAP = "\ue002"
# A list marker or a source tag ("[DOC-12]", "[3]") opens a sentence like a line start does.
_BULLET_HEAD_RE = re.compile(r"[ \t]*(?:[-*+]|\d+[.)]|\[[A-Za-z0-9][\w.#-]{0,30}\])")
# The comma after a deleted opener goes with it: "Basically, answer" -> "Answer".
_CAP_RE = re.compile(_CAP + r"[ \t]*(?:[,;][ \t]*)?([a-z]+\b)?")


def _at_sentence_start(s: str, i: int) -> bool:
    j = i
    while j > 0 and s[j - 1] in " \t" + _CAP:
        j -= 1
    if j == 0 or s[j - 1] in ".!?\n":
        return True
    line_start = s.rfind("\n", 0, j) + 1
    return bool(_BULLET_HEAD_RE.fullmatch(s[line_start:j]))


def _case(match: re.Match, repl: str, start_only: bool = False) -> str:
    found = match.group(0)
    if start_only and not _at_sentence_start(match.string, match.start()):
        return found
    if repl:
        # Replacements may reuse captured words ("\\1"); those are copied, never rewritten.
        repl = match.expand(repl) if "\\" in repl else repl
        return repl[:1].upper() + repl[1:] if found[:1].isupper() else repl
    # A deleted sentence opener: mark the spot so the next plain word gets capitalized.
    return _CAP if _at_sentence_start(match.string, match.start()) else ""


def _capitalize_marks(text: str) -> str:
    """Capitalize the plain lowercase word after a deleted opener.

    Only all-lowercase alphabetic words are touched; identifiers, numbers and
    placeholders never match.
    """
    return _CAP_RE.sub(lambda m: (m.group(1)[0].upper() + m.group(1)[1:]) if m.group(1) else "", text)
