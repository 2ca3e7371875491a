"""Extractive shortening of retrieved context (never of instructions) at the aggressive level."""

from __future__ import annotations

import re

from optimization.compression.guarantees import IDENTIFIER_RE, NEGATION_RE, NUMBER_RE
from optimization.compression.masking import PLACEHOLDER_RE
from optimization.compression.splitting import paragraphs, sentences

LONG_PARAGRAPH_WORDS = 60

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
CAUSAL_RE = re.compile(
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


def must_keep(sentence: str) -> bool:
    """Whether a context sentence carries a protected span, number, identifier, negation or cause."""
    return bool(
        PLACEHOLDER_RE.search(sentence)
        or NUMBER_RE.search(sentence)
        or IDENTIFIER_RE.search(sentence)
        or NEGATION_RE.search(sentence)
        or CAUSAL_RE.search(sentence)
    )


def context_paragraphs(paras: list[str]) -> set[int]:
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


def shorten_context(text: str) -> str:
    """Drop context sentences that carry nothing the question could need.

    A sentence of a long context line stays if it is the line's first, holds a
    number, identifier, protected span, negation or causal link, or shares a
    content word (crudely stemmed) with the instructions and the question.
    """
    paras, seps = paragraphs(text)
    context = context_paragraphs(paras)
    if not context:
        return text
    query = _content_words(" ".join(p for i, p in enumerate(paras) if i not in context))
    for i in sorted(context):
        lines = paras[i].split("\n")
        for j, line in enumerate(lines):
            if len(line.split()) < LONG_PARAGRAPH_WORDS:
                continue
            parts = sentences(line)
            kept = [s for n, s in enumerate(parts) if n == 0 or must_keep(s) or _content_words(s) & query]
            if len(kept) < len(parts):
                lines[j] = "".join(kept).rstrip()
        paras[i] = "\n".join(lines)
    return "".join(p + s for p, s in zip(paras, seps, strict=True))
