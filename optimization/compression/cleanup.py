"""Steps before any phrase rule: whitespace, repeated lines and sentences, markdown decoration."""

from __future__ import annotations

import re

from optimization.compression.splitting import sentences


def whitespace(text: str) -> str:
    """Trailing and repeated spaces, space before punctuation, runs of blank lines (indentation kept)."""
    lines = []
    for line in text.split("\n"):
        line = line.rstrip()
        indent = len(line) - len(line.lstrip(" \t"))
        body = re.sub(r"[ \t]{2,}", " ", line[indent:])
        body = re.sub(r" +([,.;:!?)])", r"\1", body)
        lines.append(line[:indent] + body)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def dedupe_lines(text: str) -> str:
    """Drop a line of three or more words that repeats an earlier line."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        key = line.strip()
        if key and len(key.split()) >= 3:
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "\n".join(out)


_LIST_MARK_RE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")


def _sentence_key(sentence: str) -> str:
    return " ".join(_LIST_MARK_RE.sub("", sentence).lower().rstrip(" \t.!?;").split())


def dedupe_sentences(text: str) -> str:
    """Drop a sentence that repeats an earlier one word for word (list markers and case aside).

    A repeat says nothing new, negations included: "Do not guess." stated twice
    is still one rule. Sentences under four words always stay (list labels,
    short answers); a line whose every sentence was a repeat goes.
    """
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        mark = _LIST_MARK_RE.match(line)
        prefix = mark.group(0) if mark else ""
        parts = sentences(line[len(prefix) :])
        kept = []
        for sentence in parts:
            key = _sentence_key(sentence)
            if len(key.split()) >= 4:
                if key in seen:
                    continue
                seen.add(key)
            kept.append(sentence)
        if parts and not kept:
            continue
        out.append(line if len(kept) == len(parts) else prefix + "".join(kept).rstrip())
    return "\n".join(out)


def markdown(text: str) -> str:
    """Emphasis, horizontal rules and heading marks go; a heading becomes "Label:"."""
    text = re.sub(r"\*\*(\w[^*\n]*?\w|\w)\*\*", r"\1", text)
    # Underscore emphasis only around words with a space between: "__init__" and "m.__dict__" are names.
    text = re.sub(r"(?<![\w.])__(\w[^_\n]*?\s[^_\n]*?\w)__(?!\w)", r"\1", text)
    text = re.sub(r"(?m)^[ \t]*(?:-{3,}|\*{3,}|={3,}|_{3,})[ \t]*$\n?", "", text)
    text = re.sub(r"(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", lambda m: m.group(1).rstrip(":") + ":", text)
    # "### Goal\nYour goal is to ..." becomes "Goal:\nGoal: ..." after the rules; one label is enough.
    text = re.sub(r"(?m)^([A-Z][A-Za-z ]{0,30}:)[ \t]*\n(?:[ \t]*\n)?(?=\1[ \t])", "", text)
    return text
