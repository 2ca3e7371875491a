"""Rule-based prompt compression (pure Python, no model calls).

Protected spans are masked first and restored byte for byte at the end:
fenced code, inline code, the input/output lines of few-shot pairs and
data-labelled lines such as "Text: ..." (data, not instructions), JSON
blocks (compacted lexically: only whitespace outside strings goes, so every
literal keeps its exact text), URLs, emails and quoted strings. The rules
then only see prose, and no rule pattern contains a negation, a digit or an
identifier, so those survive by construction.

Levels are cumulative:

- ``light``: lossless steps: whitespace, compact JSON, repeated lines.
- ``balanced``: + markdown decoration, repeated sentences, the phrase rules
  and articles.
- ``aggressive``: + only the first N few-shot examples, retrieved context
  (never instructions) shortened extractively (a sentence goes only if it has
  no number, identifier, protected span, negation or causal link and shares
  no content word with the instructions and question), then function words.

The pipeline runs until the text stops changing (at most a few rounds), so
compressing twice gives the same result as compressing once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from optimization.phrase_rules import (
    AGGRESSIVE_NEGATION_KEEPING_RULES,
    AGGRESSIVE_RULES,
    ARTICLE_RULES,
    NEGATION_KEEPING_RULES,
    PHRASE_RULES,
)

LEVELS = ("light", "balanced", "aggressive")
DEFAULT_MAX_EXAMPLES = 2
LONG_PARAGRAPH_WORDS = 60

_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER_RE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nothing",
        "nobody",
        "nowhere",
        "nor",
        "neither",
        "cannot",
        "without",
    }
)
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|nowhere|nor|neither|cannot|without|\w+n['’]t)\b", re.IGNORECASE
)


@dataclass
class CompressionResult:
    text: str
    techniques: list[str] = field(default_factory=list)
    # Raw text of the few-shot examples that aggressive mode dropped on purpose.
    removed_examples: list[str] = field(default_factory=list)


# --- Protection --------------------------------------------------------------------


class _Masker:
    """Replaces protected spans with content-addressed placeholders."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self._ids: dict[str, int] = {}

    def token(self, content: str) -> str:
        idx = self._ids.get(content)
        if idx is None:
            idx = self._ids[content] = len(self.spans)
            self.spans.append(content)
        return f"{_OPEN}{idx}{_CLOSE}"

    def restore(self, text: str) -> str:
        # Spans never contain placeholders, so one pass restores everything.
        return _PLACEHOLDER_RE.sub(lambda m: self.spans[int(m.group(1))], text)


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
_URL_RE = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>\"'`\ue000\ue001]+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED_RE = re.compile(
    r"\"[^\"\n\ue000]{1,300}\"|“[^”\n\ue000]{1,300}”|(?<![\w'’])'[^'\n\ue000]{1,200}'(?![\w])"
)
_JSON_DECODER = json.JSONDecoder()


class _TooComplex(Exception):
    """The input defeats JSON detection; it is returned unchanged rather than risk a block."""


# Each failed attempt costs O(position) inside the json module (it computes
# line numbers), so candidates are pre-filtered and failures are capped:
# adversarial input ("{"{"{"...) is returned unchanged instead of going quadratic.
_MAX_JSON_FAILURES = 200
_VALUE_START = frozenset('{["-0123456789tfn')
_OBJECT_NEXT = frozenset('"}')


def _next_non_space(text: str, i: int) -> str:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return text[i] if i < n else ""


def _json_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    failures = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "{[":
            nxt = _next_non_space(text, i + 1)
            plausible = nxt in _OBJECT_NEXT if ch == "{" else (nxt in _VALUE_START or nxt == "]")
            if not plausible:
                i += 1
                continue
            try:
                value, end = _JSON_DECODER.raw_decode(text, i)
            except ValueError:
                failures += 1
                if failures > _MAX_JSON_FAILURES:
                    raise _TooComplex from None
                i += 1
                continue
            except RecursionError as exc:
                raise _TooComplex from exc
            if isinstance(value, (dict, list)):
                spans.append((i, end))
                i = end
                continue
        i += 1
    return spans


def compact_json(raw: str) -> str:
    """Drop whitespace outside strings; literals keep their exact text."""
    out = []
    in_string = False
    escaped = False
    for ch in raw:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch not in " \t\r\n":
            out.append(ch)
    return "".join(out)


def _sub_spans(text: str, spans: list[tuple[int, int]], make) -> str:
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


def _mask_example_lines(text: str, masker: _Masker, techniques: list[str]) -> str:
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
        if _INPUT_LABEL_RE.match(lines[i]) and _OUTPUT_LINE_RE.fullmatch(lines[i + 1]):
            protect.update((i, i + 1))
    for j in sorted(protect):
        m = _LABELLED_LINE_RE.match(lines[j])
        if m:
            data = m.group(2)
            compacted = _sub_spans(data, _json_spans(data), compact_json)
            if compacted != data and "json_compact" not in techniques:
                techniques.append("json_compact")
            lines[j] = m.group(1) + masker.token(compacted)
    return "\n".join(lines)


def _mask(text: str, masker: _Masker, techniques: list[str]) -> str:
    text = _sub_spans(text, fenced_blocks(text), masker.token)
    text = _INLINE_CODE_RE.sub(lambda m: masker.token(m.group(0)), text)
    text = _mask_example_lines(text, masker, techniques)
    json_spans = _json_spans(text)
    if "json_compact" not in techniques and any(compact_json(text[s:e]) != text[s:e] for s, e in json_spans):
        techniques.append("json_compact")
    text = _sub_spans(text, json_spans, lambda raw: masker.token(compact_json(raw)))

    def url(m: re.Match) -> str:
        raw = m.group(0)
        trimmed = raw.rstrip(".,;:!?)]}'\"")
        return masker.token(trimmed) + raw[len(trimmed) :]

    text = _URL_RE.sub(url, text)
    text = _EMAIL_RE.sub(lambda m: masker.token(m.group(0)), text)
    text = _QUOTED_RE.sub(lambda m: masker.token(m.group(0)), text)
    return text


# --- Lossless steps ------------------------------------------------------------------


def _whitespace(text: str) -> str:
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


def _dedupe_lines(text: str) -> str:
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


def _dedupe_sentences(text: str) -> str:
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
        sentences = _sentences(line[len(prefix) :])
        kept = []
        for sentence in sentences:
            key = _sentence_key(sentence)
            if len(key.split()) >= 4:
                if key in seen:
                    continue
                seen.add(key)
            kept.append(sentence)
        if sentences and not kept:
            continue
        out.append(line if len(kept) == len(sentences) else prefix + "".join(kept).rstrip())
    return "\n".join(out)


# --- Phrase rules (data in phrase_rules.py) ---------------------------------------------

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


def _compile(
    rules: list[tuple[str, str]], *, need_word_after: bool = False, after: str = ""
) -> list[tuple[re.Pattern, str, bool, str]]:
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


_PHRASES = _compile(PHRASE_RULES + NEGATION_KEEPING_RULES)
# Single words go only before a plain lowercase word, never before a
# placeholder, number or symbol ("a > b" keeps its "a").
_ARTICLES = _compile(ARTICLE_RULES, need_word_after=True)
# "the" also goes before a name, number or protected span ("the EU", "the 95th
# percentile", "the `ticket_id` field"): unlike "a", it is never a symbol itself.
_THE = _compile([(r"the", "")], after=r"(?=[ \t]+(?:[A-Za-z0-9]|\ue000))")
_AGGRESSIVE = _compile(AGGRESSIVE_RULES + AGGRESSIVE_NEGATION_KEEPING_RULES, need_word_after=True)


def _apply_rules(text: str, rules: list[tuple[re.Pattern, str, bool, str]]) -> str:
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


def _markdown(text: str) -> str:
    text = re.sub(r"\*\*(\w[^*\n]*?\w|\w)\*\*", r"\1", text)
    text = re.sub(r"__(\w[^_\n]*?\w|\w)__", r"\1", text)
    text = re.sub(r"(?m)^[ \t]*(?:-{3,}|\*{3,}|={3,}|_{3,})[ \t]*$\n?", "", text)
    text = re.sub(r"(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", lambda m: m.group(1).rstrip(":") + ":", text)
    # "### Goal\nYour goal is to ..." becomes "Goal:\nGoal: ..." after the rules; one label is enough.
    text = re.sub(r"(?m)^([A-Z][A-Za-z ]{0,30}:)[ \t]*\n(?:[ \t]*\n)?(?=\1[ \t])", "", text)
    return text


# --- Aggressive: few-shot examples and long context ------------------------------------

_PARA_SPLIT_RE = re.compile(r"\n[ \t]*\n")
_EXAMPLE_HEADER_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?example(?:[ \t]*#?\d+)?[ \t]*(?:\*\*)?[ \t]*[:.)\-]?", re.IGNORECASE
)
_INPUT_LABEL_RE = re.compile(
    r"^[ \t]*(?:input|q|question|text|review|user|customer|email|sentence|query|ticket|message)[ \t]*:",
    re.IGNORECASE,
)
_OUTPUT_LINE_RE = re.compile(
    r"(?m)^[ \t]*(?:output|a|answer|label|sentiment|assistant|category|intent|response|classification|"
    r"summary|sql|result|reply)[ \t]*:[ \t]*(\S.*)?$",
    re.IGNORECASE,
)


def _has_output(paragraph: str) -> bool:
    return any(m.group(1) for m in _OUTPUT_LINE_RE.finditer(paragraph))


def _paragraphs(text: str) -> tuple[list[str], list[str]]:
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


def _prune_examples(text: str, keep: int, masker: _Masker) -> tuple[str, list[str]]:
    """Keep the first ``keep`` examples of every run of few-shot examples."""
    paras, seps = _paragraphs(text)
    # Assign each paragraph to an example id (or None).
    example_of: list[int | None] = [None] * len(paras)
    current: int | None = None
    next_id = 0
    closed = True
    for i, p in enumerate(paras):
        if _EXAMPLE_HEADER_RE.match(p):
            current, next_id = next_id, next_id + 1
            example_of[i] = current
            closed = _has_output(p)
        elif _INPUT_LABEL_RE.match(p) and _has_output(p):
            current, next_id = next_id, next_id + 1
            example_of[i] = current
            closed = True
        elif current is not None and not closed:
            example_of[i] = current
            closed = _has_output(p)
        else:
            current, closed = None, True
    # A run is a sequence of examples uninterrupted by other paragraphs.
    drop: set[int] = set()
    run: list[int] = []
    runs: list[list[int]] = []
    for ex in example_of + [None]:
        if ex is None:
            if run:
                runs.append(run)
            run = []
        elif not run or run[-1] != ex:
            run.append(ex)
    for run in runs:
        drop.update(run[keep:])
    if not drop:
        return text, []
    removed, out = [], []
    for i, p in enumerate(paras):
        if example_of[i] in drop:
            removed.append(p)
            continue
        out.append(p + seps[i])
    kept_text = "".join(out).rstrip()
    return kept_text, [masker.restore(p) for p in removed]


# A sentence ends at . ! ? followed by space and a capital, digit or
# placeholder, but not after "e.g." or "i.e." (the rules introduce those).
_SENTENCE_END_RE = re.compile(r"(?<![\s(]e\.g\.)(?<![\s(]i\.e\.)(?<=[.!?])\s+(?=[A-Z0-9\ue000\"“(\[])")


def _sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph, each with its trailing space, joining back exactly."""
    out, last = [], 0
    for m in _SENTENCE_END_RE.finditer(paragraph):
        out.append(paragraph[last : m.end()])
        last = m.end()
    out.append(paragraph[last:])
    return [s for s in out if s]
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’]+")
_STOPWORDS = frozenset(
    "the and for with that this from have has had was were are is be been being you your our their they them "
    "its it's into onto about above after again against all also any because before below between both "
    "but by "
    "can could did does doing down during each few further here how just more most other over same should so "
    "some such than then there these those through too under until very what when where which while who whom "
    "why will would use using used one two may might must shall only own out off once per via text following much many "
    "information data".split()
)
_IDENTIFIER_RE = re.compile(
    r"\b(?:[A-Za-z_][A-Za-z0-9]*_[A-Za-z0-9_]*|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*"
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Z][A-Z0-9_]{1,}|[A-Za-z]+\d\w*)\b"
)
_NUMBER_RE = re.compile(r"\d+(?:[.,:/]\d+)*")


# Words that describe the prompt itself rather than its topic: "Answer the
# question using the documents above" says nothing about which facts matter.
_META_WORDS = frozenset(
    "answer answers answering question questions context contexts document documents record records source "
    "sources retrieved provided given based above below following read summarize summary name names "
    "helpful assistant clear clearly concise concisely manner respond response reply user users end "
    "passage passages excerpt excerpts article articles snippet snippets note notes".split()
)
# A sentence that states a cause explains the facts around it; it stays even
# when it shares no word with the question ("Most of the increase was caused by ...").
_CAUSAL_RE = re.compile(
    r"\b(?:because|caused|causes|cause|due to|driven by|drove|led to|leads to|result of|resulted|reason)\b",
    re.IGNORECASE,
)
# A heading that opens retrieved material: "Context:", "### Documents", "<context>".
_CONTEXT_HEADING_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?<?(?:retrieved |relevant |reference |search |supporting |background )?"
    r"(?:context|documents?|sources?|passages?|excerpts?|articles?|snippets?|search results|knowledge|background"
    r"|transcript|notes)>?[ \t]*:?[ \t]*$",
    re.IGNORECASE,
)
_HEADING_RE = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+\S.*|[A-Z][^\n.!?]{0,40}:|<[^>\n]{1,40}>)[ \t]*$")
# A source tag names a document by an id with a digit: "[DOC-12]", "[3]"; "[IMPORTANT]" is not one.
_SOURCE_TAG_RE = re.compile(r"^[ \t]*\[(?=[^\]\n]*\d)[A-Za-z0-9][\w.#:-]{0,30}\]")


def _stem(word: str) -> str:
    """A crude stem (the first six letters), enough to match "increase" with "increased"."""
    return word.lower()[:6]


def _content_words(text: str) -> set[str]:
    return {
        _stem(w)
        for w in _WORD_RE.findall(text)
        if len(w) >= 4 and w.lower() not in _STOPWORDS and w.lower() not in _META_WORDS
    }


def _must_keep(sentence: str) -> bool:
    return bool(
        _PLACEHOLDER_RE.search(sentence)
        or _NUMBER_RE.search(sentence)
        or _IDENTIFIER_RE.search(sentence)
        or _NEGATION_RE.search(sentence)
        or _CAUSAL_RE.search(sentence)
    )


def _context_paragraphs(paras: list[str]) -> set[int]:
    """Which paragraphs hold retrieved material rather than instructions.

    A paragraph is context when it opens with a source tag ("[DOC-12] ...") or
    comes under a context heading ("Context:", "### Documents", "<context>"),
    on its own line or the paragraph's first, up to the next heading.
    Instructions, rules and questions are never shortened.
    """
    found: set[int] = set()
    in_context = False
    for i, p in enumerate(paras):
        head, _, body = p.strip().partition("\n")
        if _HEADING_RE.match(head):
            in_context = bool(_CONTEXT_HEADING_RE.match(head))
            if not body:
                continue
        if in_context or _SOURCE_TAG_RE.match(p):
            found.add(i)
    return found


def _shorten_context(text: str) -> str:
    """Drop context sentences that carry nothing the question could need.

    A sentence of a long context line stays if it is the line's first, holds a
    number, identifier, protected span, negation or causal link, or shares a
    content word (crudely stemmed) with the instructions and the question.
    """
    paras, seps = _paragraphs(text)
    context = _context_paragraphs(paras)
    if not context:
        return text
    query = _content_words(" ".join(p for i, p in enumerate(paras) if i not in context))
    for i in sorted(context):
        lines = paras[i].split("\n")
        for j, line in enumerate(lines):
            if len(line.split()) < LONG_PARAGRAPH_WORDS:
                continue
            sentences = _sentences(line)
            kept = [s for n, s in enumerate(sentences) if n == 0 or _must_keep(s) or _content_words(s) & query]
            if len(kept) < len(sentences):
                lines[j] = "".join(kept).rstrip()
        paras[i] = "\n".join(lines)
    return "".join(p + s for p, s in zip(paras, seps, strict=True))


# --- Entry point -------------------------------------------------------------------------


def _one_round(text: str, level: str, max_examples: int) -> CompressionResult:
    techniques: list[str] = []
    masker = _Masker()
    masked = _mask(text, masker, techniques)

    def step(name: str, fn, value: str) -> str:
        new = fn(value)
        if new != value:
            techniques.append(name)
        return new

    masked = step("whitespace", _whitespace, masked)
    masked = step("dedupe_lines", _dedupe_lines, masked)
    if level in ("balanced", "aggressive"):
        masked = step("markdown", _markdown, masked)
        masked = step("dedupe_sentences", lambda t: _whitespace(_dedupe_sentences(t)), masked)
        masked = step("phrase_rules", lambda t: _whitespace(_apply_rules(t, _PHRASES)), masked)
        masked = step("articles", lambda t: _whitespace(_apply_rules(t, _ARTICLES + _THE)), masked)
    if level == "aggressive":
        masked = step("extractive_context", _shorten_context, masked)
        masked = step("function_words", lambda t: _whitespace(_apply_rules(t, _AGGRESSIVE)), masked)
    return CompressionResult(masker.restore(masked), techniques)


def compress(
    text: str, *, level: str = "balanced", max_examples: int = DEFAULT_MAX_EXAMPLES
) -> CompressionResult:
    """Compress ``text`` at ``level``; the result is a fixed point of the pipeline."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if _OPEN in text or _CLOSE in text:
        return CompressionResult(text, [], [])  # our placeholder characters; do not risk corrupting it
    techniques: list[str] = []
    removed: list[str] = []
    current = text
    if level == "aggressive":
        # Examples go first, from the raw text, so what was dropped is an exact
        # substring of the input (fenced code is masked so it is never split).
        masker = _Masker()
        masked = _sub_spans(text, fenced_blocks(text), masker.token)
        pruned, removed = _prune_examples(masked, max_examples, masker)
        if removed:
            techniques.append("fewshot_prune")
            current = masker.restore(pruned)
    for _ in range(4):
        try:
            result = _one_round(current, level, max_examples)
        except _TooComplex:
            return CompressionResult(text, [], [])
        if result.text == current:
            break
        techniques.extend(t for t in result.techniques if t not in techniques)
        current = result.text
    return CompressionResult(current, techniques, removed)
