"""Paragraph and sentence splitting that joins back to the exact input."""

from __future__ import annotations

import re

_PARA_SPLIT_RE = re.compile(r"\n[ \t]*\n")
# A sentence ends at . ! ? followed by space and a capital, digit or
# placeholder, but not after "e.g." or "i.e." (the rules introduce those).
_SENTENCE_END_RE = re.compile(r"(?<![\s(]e\.g\.)(?<![\s(]i\.e\.)(?<=[.!?])\s+(?=[A-Z0-9\ue000\"“(\[])")


def paragraphs(text: str) -> tuple[list[str], list[str]]:
    """Paragraphs and the separators after each (so they join back exactly)."""
    paras, seps = [], []
    last = 0
    for m in _PARA_SPLIT_RE.finditer(text):
        paras.append(text[last : m.start()])
        seps.append(m.group(0))
        last = m.end()
    paras.append(text[last:])
    seps.append("")
    return paras, seps


def sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph, each with its trailing space, joining back exactly."""
    out, last = [], 0
    for m in _SENTENCE_END_RE.finditer(paragraph):
        out.append(paragraph[last : m.end()])
        last = m.end()
    out.append(paragraph[last:])
    return [s for s in out if s]
