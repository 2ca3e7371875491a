"""The level pipeline: compress(), its result type and the levels it accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from optimization.compression.cleanup import dedupe_lines, dedupe_sentences, markdown, whitespace
from optimization.compression.extractive import shorten_context
from optimization.compression.fewshot import prune_examples
from optimization.compression.json_compact import TooComplex
from optimization.compression.masking import CLOSE, OPEN, Masker, fenced_blocks, mask, sub_spans
from optimization.compression.rules import AGGRESSIVE, ARTICLES, PHRASES, THE, apply_rules

LEVELS = ("light", "balanced", "aggressive")
DEFAULT_MAX_EXAMPLES = 2


@dataclass
class CompressionResult:
    text: str
    techniques: list[str] = field(default_factory=list)
    # Raw text of the few-shot examples that aggressive mode dropped on purpose.
    removed_examples: list[str] = field(default_factory=list)


def _one_round(text: str, level: str) -> CompressionResult:
    techniques: list[str] = []
    masker = Masker()
    masked = mask(text, masker, techniques)

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
    if level == "aggressive":
        masked = step("extractive_context", shorten_context, masked)
        masked = step("function_words", lambda t: whitespace(apply_rules(t, AGGRESSIVE)), masked)
    return CompressionResult(masker.restore(masked), techniques)


def compress(
    text: str, *, level: str = "balanced", max_examples: int = DEFAULT_MAX_EXAMPLES
) -> CompressionResult:
    """Compress ``text`` at ``level``; the result is a fixed point of the pipeline.

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

    The pipeline runs until the text stops changing (at most a few rounds), so
    compressing twice gives the same result as compressing once.
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
        pruned, dropped = prune_examples(masked, max_examples)
        removed = [masker.restore(p) for p in dropped]
        if removed:
            techniques.append("fewshot_prune")
            current = masker.restore(pruned)
    for _ in range(4):
        try:
            result = _one_round(current, level)
        except TooComplex:
            return CompressionResult(text, [], [])
        if result.text == current:
            break
        techniques.extend(t for t in result.techniques if t not in techniques)
        current = result.text
    return CompressionResult(current, techniques, removed)
