"""Fit a chat history into a model's context window (pure logic, exact counts).

Budget = floor(safety_margin x context_window) - max_response_tokens, counted
with tokens.tokenizer.count_messages (chat overhead included). System
messages and the newest message always stay; whole messages go oldest first;
an assistant message with tool calls and the tool results answering it go or
stay together. When more than half of the history goes, one extractive
summary of what went is inserted after the system messages, sized to fit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import Unprocessable
from tokens.tokenizer import _content_text, count_messages, count_text, decode, encode

SYSTEM_ROLES = ("system", "developer")
SUMMARY_PREFIX = "Summary of {n} earlier messages (extractive):"
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")


class ContextTooSmall(Unprocessable):
    """System messages plus the newest message alone exceed the budget."""

    def __init__(self, *, required: int, budget: int, context_window: int, max_response_tokens: int,
                 safety_margin: float) -> None:
        super().__init__(
            f"System and newest messages need {required} tokens; the budget is {budget}.",
            code="context_too_small",
            fields={"required_tokens": required, "budget": budget, "context_window": context_window,
                    "max_response_tokens": max_response_tokens, "safety_margin": safety_margin},
        )
        self.required = required
        self.budget = budget


@dataclass
class FitResult:
    messages: list[dict[str, Any]]
    dropped: int
    dropped_indices: list[int]
    tokens: int
    original_tokens: int
    budget: int
    summary_inserted: bool = False
    notes: list[str] = field(default_factory=list)
    target_met: bool | None = None


def context_budget(*, context_window: int, max_response_tokens: int, safety_margin: float) -> int:
    return math.floor(safety_margin * context_window) - max_response_tokens


def _units(messages: list[dict[str, Any]]) -> list[list[int]]:
    """Indices grouped so a tool call and its results form one unit."""
    units: list[list[int]] = []
    i = 0
    while i < len(messages):
        msg = messages[i]
        unit = [i]
        if msg.get("role") == "assistant" and (msg.get("tool_calls") or msg.get("function_call")):
            ids = {c.get("id") for c in msg.get("tool_calls") or [] if isinstance(c, dict)}
            j = i + 1
            while (
                j < len(messages)
                and messages[j].get("role") in ("tool", "function")
                and (
                    not ids or messages[j].get("tool_call_id") in ids or messages[j].get("role") == "function"
                )
            ):
                unit.append(j)
                j += 1
            i = j
        else:
            i += 1
        units.append(unit)
    # A tool result whose call came earlier belongs with that call.
    merged: list[list[int]] = []
    for unit in units:
        if merged and messages[unit[0]].get("role") in ("tool", "function"):
            merged[-1].extend(unit)
        else:
            merged.append(unit)
    return merged


def _summary_text(dropped: list[dict[str, Any]], *, model: str, limit: int) -> str | None:
    """First sentence of each dropped message, oldest first, cut to ``limit`` tokens of content."""
    header = SUMMARY_PREFIX.format(n=len(dropped))
    lines = [header]
    for msg in dropped:
        text = _content_text(msg.get("content")).strip()
        if not text:
            continue
        first = _SENTENCE_RE.match(text)
        sentence = (first.group(0) if first else text).strip()
        lines.append(f"- {msg.get('role', 'user')}: {sentence}")
    text = "\n".join(lines)
    if count_text(text, model).tokens <= limit:
        return text
    ids = encode(text, model)
    if limit <= 0:
        return None
    # Estimated tokenizers scale counts up; shrink until the real count fits.
    keep = min(len(ids), limit)
    while keep > 0:
        candidate = decode(ids[:keep], model).rstrip()
        if count_text(candidate, model).tokens <= limit and candidate.startswith(header):
            return candidate
        if not candidate.startswith(header):
            return None
        keep -= max(1, keep // 20)
    return None


def _drop_order(
    messages: list[dict[str, Any]], history_units: list[list[int]], question: str,
    ranker: Callable[[str, list[str]], list[float]] | None,
) -> list[int]:
    """Which history units go first: the least relevant to the question (oldest first among equals), else the oldest."""
    if not question.strip() or ranker is None or not history_units:
        return list(range(len(history_units)))
    texts = [" ".join(_content_text(messages[i].get("content")) for i in unit) for unit in history_units]
    scores = ranker(question, texts)
    return sorted(range(len(history_units)), key=lambda n: (scores[n], n))


def fit_context(
    messages: list[dict[str, Any]],
    *,
    model: str,
    context_window: int,
    max_response_tokens: int = 2000,
    safety_margin: float = 0.9,
    question: str = "",
    ranker: Callable[[str, list[str]], list[float]] | None = None,
    target_tokens: int | None = None,
) -> FitResult:
    """Fit ``messages`` into the window; with ``question``, the least relevant history goes first.

    ``target_tokens`` lowers the budget below the window's (never an error:
    ``target_met`` says whether system + newest + what stayed fit it).
    """
    window_budget = context_budget(
        context_window=context_window, max_response_tokens=max_response_tokens, safety_margin=safety_margin
    )
    budget = min(window_budget, target_tokens) if target_tokens is not None else window_budget
    original = count_messages(messages, model).tokens
    if not messages:
        return FitResult([], 0, [], original, original, window_budget)
    units = _units(messages)
    newest = units[-1]
    system_idx = [i for i, m in enumerate(messages) if m.get("role") in SYSTEM_ROLES and i not in newest]
    history_units = [[i for i in u if i not in system_idx] for u in units[:-1]]
    history_units = [u for u in history_units if u]
    base_idx = sorted(system_idx + newest)
    base_tokens = count_messages([messages[i] for i in base_idx], model).tokens
    if base_tokens > window_budget:
        raise ContextTooSmall(required=base_tokens, budget=window_budget, context_window=context_window,
                              max_response_tokens=max_response_tokens, safety_margin=safety_margin)
    met = None if target_tokens is None else original <= budget
    if original <= budget:
        return FitResult(list(messages), 0, [], original, original, window_budget, target_met=met)
    history_units = [history_units[n] for n in _drop_order(messages, history_units, question, ranker)]
    # Per-message costs let us find the cut in one pass; the exact total is checked after.
    cost = [count_messages([m], model).tokens - 3 for m in messages]
    total = original
    drop_units = 0
    while drop_units < len(history_units) and total > budget:
        total -= sum(cost[i] for i in history_units[drop_units])
        drop_units += 1

    def assemble(n_drop: int, summary: dict | None) -> list[dict[str, Any]]:
        dropped_set = {i for u in history_units[:n_drop] for i in u}
        kept = [m for i, m in enumerate(messages) if i not in dropped_set]
        if summary is not None:
            at = 0
            while at < len(kept) and kept[at].get("role") in SYSTEM_ROLES:
                at += 1
            kept.insert(at, summary)
        return kept

    while drop_units < len(history_units) and count_messages(assemble(drop_units, None), model).tokens > budget:
        drop_units += 1  # the estimate rounded; within the window history cannot run out because base fits

    history_count = sum(len(u) for u in history_units)
    summary_inserted = False
    summary_msg = None
    notes: list[str] = []
    dropped_count = sum(len(u) for u in history_units[:drop_units])
    if dropped_count * 2 > history_count:
        while True:
            kept_tokens = count_messages(assemble(drop_units, None), model).tokens
            room = budget - kept_tokens - 4  # 3 per message, plus the role
            dropped_msgs = [messages[i] for i in sorted(i for u in history_units[:drop_units] for i in u)]
            text = _summary_text(dropped_msgs, model=model, limit=room)
            if text is not None:
                summary_msg = {"role": "system", "content": text}
                if count_messages(assemble(drop_units, summary_msg), model).tokens <= budget:
                    summary_inserted = True
                    break
            if drop_units >= len(history_units):
                notes.append("no room for a summary")
                summary_msg = None
                break
            drop_units += 1
        dropped_count = sum(len(u) for u in history_units[:drop_units])

    final = assemble(drop_units, summary_msg if summary_inserted else None)
    dropped_indices = sorted(i for u in history_units[:drop_units] for i in u)
    tokens = count_messages(final, model).tokens
    return FitResult(
        messages=final,
        dropped=dropped_count,
        dropped_indices=dropped_indices,
        tokens=tokens,
        original_tokens=original,
        budget=window_budget,
        summary_inserted=summary_inserted,
        notes=notes,
        target_met=None if target_tokens is None else tokens <= budget,
    )
