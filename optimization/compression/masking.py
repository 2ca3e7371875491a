"""Protected spans (code, few-shot data, JSON, URLs, emails, quotes) masked behind placeholders."""

from __future__ import annotations

import re
from collections.abc import Callable

from optimization.compression.fewshot import INPUT_LABEL_RE, OUTPUT_LINE_RE
from optimization.compression.json_compact import compact_json, json_spans

OPEN, CLOSE = "\ue000", "\ue001"
PLACEHOLDER_RE = re.compile(f"{OPEN}(\\d+){CLOSE}")


class Masker:
    """Replaces protected spans with content-addressed placeholders."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self._ids: dict[str, int] = {}

    def token(self, content: str) -> str:
        if OPEN in content:  # a span around spans (a labelled line holding the question): store it flat
            content = self.restore(content)
        idx = self._ids.get(content)
        if idx is None:
            idx = self._ids[content] = len(self.spans)
            self.spans.append(content)
        return f"{OPEN}{idx}{CLOSE}"

    def restore(self, text: str) -> str:
        # Spans never contain placeholders, so one pass restores everything.
        return PLACEHOLDER_RE.sub(lambda m: self.spans[int(m.group(1))], text)


_FENCE_OPEN_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def fenced_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of every fenced code block; an unclosed fence runs to the end."""
    blocks = []
    pos = 0
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN_RE.match(lines[i])
        if not m:
            pos += len(lines[i])
            i += 1
            continue
        fence = m.group(1)
        start = pos
        pos += len(lines[i])
        i += 1
        end = len(text)
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            pos += len(line)
            i += 1
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                end = pos - (len(line) - len(line.rstrip("\r\n")))
                break
        blocks.append((start, end))
    return blocks


_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
URL_RE = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>\"'`\ue000\ue001]+")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
QUOTED_RE = re.compile(
    r"\"[^\"\n\ue000]{1,300}\"|“[^”\n\ue000]{1,300}”|(?<![\w'’])'[^'\n\ue000]{1,200}'(?![\w])"
)


def sub_spans(text: str, spans: list[tuple[int, int]], make: Callable[[str], str]) -> str:
    """``text`` with each (start, end) span replaced by ``make(span text)``."""
    out = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(make(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


_LABELLED_LINE_RE = re.compile(r"^([ \t]*[A-Za-z][A-Za-z ]{0,20}:[ \t]*)(\S.*)$")


# A line labelled as material to work on ("Text: ...", "Review: ...") is data
# even outside an input/output pair: the sentence to translate, the email to
# answer. "Question:"/"Query:" lines are the prompt's own words and are not.
_DATA_LABEL_RE = re.compile(
    r"^[ \t]*(?:input|text|review|email|sentence|message|ticket|customer|transcript|snippet)[ \t]*:[ \t]*\S",
    re.IGNORECASE,
)


def _mask_example_lines(text: str, masker: Masker, techniques: list[str]) -> str:
    """Protect the data of few-shot pairs and of data-labelled lines.

    A few-shot pair is an input-label line followed by an output-label line.
    The input to translate or classify is data, not instructions: "Input: The
    meeting is at 10 am." must reach the model with its article intact, and so
    must "Text: Our new dashboard shows you where every token goes." JSON in
    that data is still compacted: like every other JSON block it parses to the
    same value, and its literals keep their exact text.
    """
    lines = text.split("\n")
    protect: set[int] = {i for i, line in enumerate(lines) if _DATA_LABEL_RE.match(line)}
    for i in range(len(lines) - 1):
        if INPUT_LABEL_RE.match(lines[i]) and OUTPUT_LINE_RE.fullmatch(lines[i + 1]):
            protect.update((i, i + 1))
    for j in sorted(protect):
        m = _LABELLED_LINE_RE.match(lines[j])
        if m:
            data = m.group(2)
            compacted = sub_spans(data, json_spans(data), compact_json)
            if compacted != data and "json_compact" not in techniques:
                techniques.append("json_compact")
            lines[j] = m.group(1) + masker.token(compacted)
    return "\n".join(lines)


def mask(text: str, masker: Masker, techniques: list[str], literals: tuple[str, ...] = ()) -> str:
    """Replace every protected span with a placeholder; JSON blocks are compacted first.

    Fenced code, inline code, few-shot and data-labelled lines, JSON blocks
    (compacted lexically: only whitespace outside strings goes, so every
    literal keeps its exact text), URLs, emails and quoted strings, and any of
    ``literals`` (the caller's question). The rules then only see prose;
    ``masker.restore`` puts the spans back byte for byte.
    """
    for literal in literals:
        if literal.strip():
            text = text.replace(literal, masker.token(literal))
    text = sub_spans(text, fenced_blocks(text), masker.token)
    text = _INLINE_CODE_RE.sub(lambda m: masker.token(m.group(0)), text)
    text = _mask_example_lines(text, masker, techniques)
    spans = json_spans(text)
    if "json_compact" not in techniques and any(compact_json(text[s:e]) != text[s:e] for s, e in spans):
        techniques.append("json_compact")
    text = sub_spans(text, spans, lambda raw: masker.token(compact_json(raw)))

    def url(m: re.Match) -> str:
        raw = m.group(0)
        trimmed = raw.rstrip(".,;:!?)]}'\"")
        return masker.token(trimmed) + raw[len(trimmed) :]

    text = URL_RE.sub(url, text)
    text = EMAIL_RE.sub(lambda m: masker.token(m.group(0)), text)
    text = QUOTED_RE.sub(lambda m: masker.token(m.group(0)), text)
    return text
