"""The level pipeline: compress(), its result type and the levels it accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from optimization.compression.cleanup import dedupe_lines, dedupe_sentences, markdown, whitespace
from optimization.compression.extractive import shorten_context
from optimization.compression.fewshot import prune_examples
from optimization.compression.focus import Ranker, focus, material_size
from optimization.compression.json_compact import TooComplex
from optimization.compression.masking import CLOSE, OPEN, Masker, fenced_blocks, mask, sub_spans
from optimization.compression.rules import AGGRESSIVE, ARTICLES, PHRASES, THE, apply_rules
from optimization.compression.sections import material_paragraphs
from optimization.compression.splitting import paragraphs
from optimization.relevance import bm25_scores

LEVELS = ("light", "balanced", "aggressive")
DEFAULT_MAX_EXAMPLES = 2


@dataclass
class CompressionResult:
    text: str
    techniques: list[str] = field(default_factory=list)
    # Raw text of the few-shot examples that aggressive mode dropped on purpose.
    removed_examples: list[str] = field(default_factory=list)
    # What question-aware selection or a target dropped: (text as in the input, relevance).
    dropped: list[tuple[str, float]] = field(default_factory=list)
    # Whether target_tokens was met; None without one.
    target_met: bool | None = None


def _one_round(text: str, level: str, *, focused: bool = False, literals: tuple[str, ...] = ()) -> CompressionResult:
    techniques: list[str] = []
    masker = Masker()
    masked = mask(text, masker, techniques, literals)

    def step(name: str, fn: Callable[[str], str], value: str) -> str:
        new = fn(value)
        if new != value:
            techniques.append(name)
        return new

    masked = step("whitespace", whitespace, masked)
    masked = step("dedupe_lines", dedupe_lines, masked)
    if level in ("balanced", "aggressive"):
        masked = step("markdown", markdown, masked)
        masked = step("dedupe_sentences", lambda t: whitespace(dedupe_sentences(t)), masked)
        masked = step("phrase_rules", lambda t: whitespace(apply_rules(t, PHRASES)), masked)
        masked = step("articles", lambda t: whitespace(apply_rules(t, ARTICLES + THE)), masked)
    if level == "aggressive" and not focused:
        masked = step("extractive_context", shorten_context, masked)
        masked = step("function_words", lambda t: whitespace(apply_rules(t, AGGRESSIVE)), masked)
    return CompressionResult(masker.restore(masked), techniques)


def _rounds(text: str, level: str, techniques: list[str], *, focused: bool, literals: tuple[str, ...] = ()) -> str:
    """The level pipeline run to a fixed point (at most 4 rounds); raises TooComplex."""
    current = text
    for _ in range(4):
        result = _one_round(current, level, focused=focused, literals=literals)
        if result.text == current:
            break
        techniques.extend(t for t in result.techniques if t not in techniques)
        current = result.text
    return current


def _query(masked: str, question: str) -> str:
    """What relevance is judged against: the question, else the prompt's own words (instructions)."""
    if question.strip():
        return question
    paras, _ = paragraphs(masked)
    material = material_paragraphs(paras, "")
    return " ".join(p for i, p in enumerate(paras) if i not in material)


def _select_and_compress(
    text: str, *, level: str, question: str, ranker: Ranker, target_tokens: int | None,
    count: Callable[[str], int] | None, techniques: list[str],
) -> tuple[str, list[tuple[str, float]], bool | None]:
    """Question-aware selection, then the level pipeline; with a target, drop more until it fits."""
    masker = Masker()
    literals = (question.strip(),) if question.strip() else ()
    masked = mask(text, masker, [])
    query = _query(masked, question)

    def size(fragment: str) -> int:
        return count(masker.restore(fragment)) if count else len(fragment)

    budget = None
    for _ in range(5):
        chosen = focus(
            masked, question=query, level=level, ranker=ranker, budget=budget, size=size,
            relevance=bool(question.strip()), restore=masker.restore,
        )
        current = _rounds(masker.restore(chosen.text), level, techniques, focused=bool(question.strip()),
                          literals=literals)
        if target_tokens is None or count is None:
            break
        over = count(current) - target_tokens
        if over <= 0:
            break
        kept = material_size(chosen.text, question=query, size=size)
        if kept == 0:
            break
        # Rules shrink what stays too; ask for the overshoot plus a tenth so the loop converges.
        budget = max(kept - over - max(over // 10, 1), 0)
    dropped = [(masker.restore(t), score) for t, score in chosen.dropped]
    if dropped:
        techniques.insert(0, "question_focus" if question.strip() else "target_focus")
    met = None if target_tokens is None or count is None else count(current) <= target_tokens
    return current, dropped, met


def compress(
    text: str,
    *,
    level: str = "balanced",
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    question: str = "",
    ranker: Ranker = bm25_scores,
    target_tokens: int | None = None,
    count: Callable[[str], int] | None = None,
) -> CompressionResult:
    """Compress ``text`` at ``level``; without a question or target the result is a fixed point.

    Protected spans are masked first and restored byte for byte at the end
    (see ``masking.mask``), so the rules only see prose, and no rule pattern
    contains a negation, a digit or an identifier: those survive by
    construction. Levels are cumulative:

    - ``light``: lossless steps: whitespace, compact JSON, repeated lines.
    - ``balanced``: + markdown decoration, repeated sentences, the phrase rules
      and articles.
    - ``aggressive``: + only the first ``max_examples`` few-shot examples,
      retrieved context (never instructions) shortened extractively (a
      sentence goes only if it has no number, identifier, protected span,
      negation or causal link and shares no content word with the
      instructions and question), then function words.

    With ``question`` (balanced and aggressive), the material's passages and
    sentences are ranked by relevance to it (``ranker``: BM25 by default) and
    the least relevant dropped (``focus``), before the rules; that replaces
    the aggressive level's extractive step. With ``target_tokens`` (counted
    by ``count``), more material goes, least relevant first, until the text
    fits or nothing droppable is left (``target_met`` says which). What went
    is in ``dropped``.

    Without a question or target the pipeline runs until the text stops
    changing (at most a few rounds), so compressing twice gives the same
    result as compressing once.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if OPEN in text or CLOSE in text:
        return CompressionResult(text, [], [])  # our placeholder characters; do not risk corrupting it
    techniques: list[str] = []
    removed: list[str] = []
    current = text
    if level == "aggressive":
        # Examples go first, from the raw text, so what was dropped is an exact
        # substring of the input (fenced code is masked so it is never split).
        masker = Masker()
        masked = sub_spans(text, fenced_blocks(text), masker.token)
        pruned, dropped_examples = prune_examples(masked, max_examples)
        removed = [masker.restore(p) for p in dropped_examples]
        if removed:
            techniques.append("fewshot_prune")
            current = masker.restore(pruned)
    try:
        if (question.strip() and level != "light") or target_tokens is not None:
            current, dropped, met = _select_and_compress(
                current, level=level, question=question if level != "light" else "", ranker=ranker,
                target_tokens=target_tokens, count=count, techniques=techniques,
            )
            return CompressionResult(current, techniques, removed, dropped, met)
        current = _rounds(current, level, techniques, focused=False)
    except TooComplex:
        return CompressionResult(text, [], [])
    return CompressionResult(current, techniques, removed)
