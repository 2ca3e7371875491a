"""Relevance of passages to a question: BM25 over the prompt's own passages (no model, no corpus).

Terms are lowercase words with a light suffix strip ("increased" and
"increases" meet "increase"), stopwords aside. Document frequencies come from
the passages being ranked, so a word every passage uses weighs little and a
rare word the question shares weighs much. ``bm25_scores`` is what
question-aware compression ranks with by default; an embedding model can rank
instead (``optimization.embeddings``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

K1 = 1.2
B = 0.75

# Words split at underscores and hyphens too: "redis_version" and "License-Expression" meet "version", "license".
_TERM_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
STOPWORDS = frozenset(
    "a an the and or but if then else of to in on at by for with from into onto as is are was were be been being "
    "am do does did doing have has had having it its it's this that these those there here what which who whom "
    "whose when where why how i me my we our us you your yours he him his she her they them their can could "
    "would should will shall may might must about above after before below between over under again also just "
    "so such than too very not no only own same some any each few more most other all both s t up down out off "
    "please tell me know want need get give let use using used "
    # what people add to a question without saying what it is about
    "actually exactly really basically ok okay thing things happen happens mean means work works way "
    "wait remind anyway".split()
)
_SUFFIXES = ("ational", "ization", "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ers",
             "er", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A light suffix strip, enough for "refunds"/"refunded"/"refund"; never below four letters."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    # "reverse" and "reversed" both end as "revers".
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def terms(text: str) -> list[str]:
    """The content terms of ``text``, stemmed, in order (repeats kept: BM25 counts them)."""
    out = []
    for raw in _TERM_RE.findall(text):
        word = raw.lower()
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.append(stem(word))
    return out


def bm25_scores(query: str, passages: Sequence[str]) -> list[float]:
    """Okapi BM25 score of each passage for ``query`` (IDF over ``passages`` themselves)."""
    docs = [terms(p) for p in passages]
    n = len(docs)
    if not n:
        return []
    avg = sum(len(d) for d in docs) / n or 1.0
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    query_terms = set(terms(query))
    idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in query_terms}
    scores = []
    for d in docs:
        tf = Counter(d)
        norm = K1 * (1.0 - B + B * len(d) / avg)
        scores.append(sum(idf[t] * tf[t] * (K1 + 1.0) / (tf[t] + norm) for t in query_terms if tf[t]))
    return scores


def shared_terms(query: str, passage: str) -> set[str]:
    """Content terms the passage shares with the query."""
    return set(terms(query)) & set(terms(passage))
