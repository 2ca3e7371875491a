"""Question-aware selection: rank the material's passages and sentences by relevance, drop the least relevant.

Works on masked text (protected spans behind placeholders), so no code block,
JSON value, URL or quotation is ever cut in half: a sentence goes whole or
stays whole. Instructions and the question are never material
(``sections.material_paragraphs``); headings, tags and delimiters frame the
material and stay while anything of their passage stays.

Each sentence's relevance is its own score plus half its passage's (both
scaled to the best in the prompt), so a sentence of the passage that answers
outranks an equally worded one elsewhere. Levels:

- ``balanced``: drops sentences that share no term with the question (a
  lexical test, whatever the ranker), in passages below a third of the best passage's score, unless they hold
  a protected span: every code block, JSON value, URL, email and quotation of
  the input stays.
- ``aggressive``: keeps the best sentences until they hold
  ``AGGRESSIVE_KEEP`` of the material's characters (never fewer than
  ``MIN_KEPT``), protected spans or not; the rest goes.
- A token budget (``budget``) drops further, least relevant first, until the
  estimate fits; at balanced never a sentence with a protected span.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from optimization.compression.masking import PLACEHOLDER_RE
from optimization.compression.sections import is_instruction, material_paragraphs, own_words, structural
from optimization.compression.splitting import paragraphs, sentences
from optimization.relevance import terms

Ranker = Callable[[str, list[str]], list[float]]

AGGRESSIVE_KEEP = 0.47
MIN_KEPT = 3
PASSAGE_WEIGHT = 0.5
NEIGHBOUR_WEIGHT = 0.25
BALANCED_PASSAGE_SHARE = 1 / 3


@dataclass
class Unit:
    para: int
    block: int
    text: str
    passage_score: float = 0.0
    own: float = 0.0
    shares_terms: bool = True
    score: float = 0.0
    protected: bool = False
    keep: bool = True


@dataclass
class Focused:
    text: str
    dropped: list[tuple[str, float]]  # (masked text, relevance) of what went, in order


_CLOSING_RE = re.compile(r"^[ \t]*(?:</[^>]+>|-{3,}|={3,})[ \t]*$")
_LIST_START_RE = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)])[ \t]+")
_WRAP_END_RE = re.compile(r"[.!?:;]['\"”’)\]]*$")
_WRAP_NEXT_RE = re.compile(r"^[ \t]*[a-z\"“'‘(\ue000]")


def _wrapped(lines: list[str]) -> bool:
    """Prose hard-wrapped at a width (PDF and docs extraction): a sentence runs on over the line end."""
    return any(
        len(a.strip()) >= 40 and not _WRAP_END_RE.search(a.rstrip()) and _WRAP_NEXT_RE.match(b)
        and not _LIST_START_RE.match(b)
        for a, b in zip(lines, lines[1:], strict=False)
    )


def _blocks(paragraph: str, question: str) -> list[tuple[bool, list[str]]]:
    """The paragraph as blocks that join back with newlines: (frame?, pieces).

    A frame (heading, tag, delimiter, label, the question) stays as it is;
    the pieces of a text block are its sentences, each droppable. A block of
    hard-wrapped prose is split into sentences across its line ends (and at
    list items); any other line is a block of its own (log lines, records).
    """
    blocks: list[tuple[bool, list[str]]] = []
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        if len(run) > 1 and _wrapped(run):
            items: list[list[str]] = []
            for line in run:
                if not items or _LIST_START_RE.match(line):
                    items.append([line])
                else:
                    items[-1].append(line)
            for item in items:
                blocks.append((False, sentences("\n".join(item))))
        else:
            blocks.extend((False, sentences(line)) for line in run)
        run.clear()

    closed = False  # past a closing delimiter or tag: an instruction line ends the material
    tail = False
    for line in paragraph.split("\n"):
        tail = tail or (closed and (own_words(line, question) or is_instruction(line)))
        closed = closed or bool(_CLOSING_RE.match(line))
        if tail or structural(line) or own_words(line, question):
            flush()
            blocks.append((True, [line]))
        else:
            run.append(line)
    flush()
    return blocks


def _units(paras: list[str], material: set[int], question: str) -> tuple[list[Unit], dict[int, list]]:
    units, layout = [], {}
    for i in sorted(material):
        layout[i] = _blocks(paras[i], question)
        for b, (frame, pieces) in enumerate(layout[i]):
            if frame:
                continue
            for piece in pieces:
                if piece.strip():
                    units.append(Unit(i, b, piece, protected=bool(PLACEHOLDER_RE.search(piece))))
    return units, layout


def _score(
    units: list[Unit], paras: list[str], question: str, ranker: Ranker, restore: Callable[[str], str]
) -> None:
    # The ranker reads the real text: a quoted "global" or `pop()` is a placeholder in ``masked``.
    passage_ids = sorted({u.para for u in units})
    passage_scores = dict(zip(passage_ids, ranker(question, [restore(paras[i]) for i in passage_ids]), strict=True))
    best_passage = max(passage_scores.values(), default=0.0) or 1.0
    texts = [restore(u.text) for u in units]
    sentence_scores = ranker(question, texts)
    wanted = set(terms(question))
    best_sentence = max(sentence_scores, default=0.0) or 1.0
    own = [max(score, 0.0) / best_sentence for score in sentence_scores]
    for n, unit in enumerate(units):
        # A sentence next to one that matches often is the answer ("... causes X. This means Y.").
        near = [own[k] for k in (n - 1, n + 1) if 0 <= k < len(units) and units[k].para == unit.para]
        unit.own = own[n]
        # Balanced drops only what shares no word with the question, whatever ranks (embeddings are never 0).
        unit.shares_terms = bool(wanted & set(terms(texts[n])))
        unit.passage_score = max(passage_scores[unit.para], 0.0) / best_passage
        unit.score = own[n] + NEIGHBOUR_WEIGHT * max(near, default=0.0) + PASSAGE_WEIGHT * unit.passage_score


def _select(
    units: list[Unit], *, level: str, relevance: bool, budget: int | None, size: Callable[[str], int]
) -> None:
    droppable = [u for u in units if level == "aggressive" or not u.protected]
    if relevance and level == "balanced":
        for u in droppable:
            if not u.shares_terms and u.passage_score < BALANCED_PASSAGE_SHARE:
                u.keep = False
    elif relevance and level == "aggressive":
        total = sum(len(u.text) for u in units)
        kept = 0
        for rank, u in enumerate(sorted(units, key=lambda u: -u.score)):
            if rank >= MIN_KEPT and kept >= AGGRESSIVE_KEEP * total:
                u.keep = False
            else:
                kept += len(u.text)
    if budget is not None:
        over = sum(size(u.text) for u in units if u.keep) - budget
        for u in sorted((u for u in droppable if u.keep), key=lambda u: u.score):
            if over <= 0:
                break
            u.keep = False
            over -= size(u.text)


def _frames_section(line: str) -> bool:
    """A heading that opens the material of several passages, an XML tag or a delimiter: it always stays."""
    stripped = line.strip()
    return stripped.startswith("<") or stripped.endswith(":") or bool(re.fullmatch(r"([-=*_#\"'])\1{2,}", stripped))


def _assemble(paras: list[str], seps: list[str], units: list[Unit], layout: dict[int, list], question: str) -> str:
    by_block: dict[tuple[int, int], list[Unit]] = {}
    for u in units:
        by_block.setdefault((u.para, u.block), []).append(u)
    out = []
    for i, para in enumerate(paras):
        if i not in layout:
            out.append((para, seps[i]))
            continue
        lines, kept_any = [], False
        for b, (frame, pieces) in enumerate(layout[i]):
            if frame:
                lines.append(pieces[0])
                continue
            kept = [u.text for u in by_block.get((i, b), []) if u.keep]
            if kept:
                kept_any = True
                first = pieces[0]
                indent = first[: len(first) - len(first.lstrip())]
                body = "".join(kept).rstrip()
                lines.append(body if body.startswith(indent) else indent + body.lstrip())
        if not kept_any and all(not _frames_section(line) and not own_words(line, question)
                                for line in lines if line.strip()):
            continue  # the whole passage went: its own title or tag goes with it
        out.append(("\n".join(lines), seps[i]))
    return "".join(p + s for p, s in out).rstrip()


def focus(
    masked: str,
    *,
    question: str,
    level: str,
    ranker: Ranker,
    budget: int | None = None,
    size: Callable[[str], int] = len,
    relevance: bool = True,
    restore: Callable[[str], str] = str,
) -> Focused:
    """Drop the least relevant material of ``masked`` for ``question`` (see the module docstring).

    ``budget`` is in the units of ``size`` (tokens when the caller passes a
    token counter) and bounds the material's sentences that stay. With
    ``relevance=False`` only the budget drops anything (a target without a
    question: ``question`` is then the prompt's own words).
    """
    paras, seps = paragraphs(masked)
    units, layout = _units(paras, material_paragraphs(paras, question), question)
    if not units:
        return Focused(masked, [])
    _score(units, paras, question, ranker, restore)
    _select(units, level=level, relevance=relevance, budget=budget, size=size)
    dropped = [(u.text.strip(), round(u.score, 3)) for u in units if not u.keep]
    if not dropped:
        return Focused(masked, [])
    return Focused(_assemble(paras, seps, units, layout, question), dropped)


def material_size(masked: str, *, question: str, size: Callable[[str], int] = len) -> int:
    """How much of ``masked`` is droppable material (in the units of ``size``)."""
    paras, _ = paragraphs(masked)
    units, _ = _units(paras, material_paragraphs(paras, question), question)
    return sum(size(u.text) for u in units)
