"""Preservation checks for compressed prompts (used by the tests and the benchmark)."""

from __future__ import annotations

import json
import re
from collections import Counter

from optimization.compression.guarantees import IDENTIFIER_RE, NEGATION_RE, NUMBER_RE
from optimization.compression.json_compact import json_spans
from optimization.compression.masking import EMAIL_RE, QUOTED_RE, URL_RE, fenced_blocks, sub_spans
from optimization.compression.pipeline import CompressionResult


def json_blocks(text: str) -> list[object]:
    """Parsed values of the JSON blocks in ``text`` (outside fenced code)."""
    masked = sub_spans(text, fenced_blocks(text), lambda raw: " " * len(raw))
    return [json.loads(masked[s:e]) for s, e in json_spans(masked)]


_STATEMENT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n")
_LIST_MARK_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def distinct_statements(text: str) -> list[str]:
    """Sentences and lines of ``text``, a verbatim repeat (case, list marker, spacing aside) counted once.

    Compression drops repeated lines and sentences (a lossless step): a rule
    stated twice is still one rule, so negations are counted per statement.
    """
    seen: set[str] = set()
    out = []
    for part in _STATEMENT_SPLIT_RE.split(text):
        key = " ".join(_LIST_MARK_RE.sub("", part).lower().rstrip(" \t.!?;").split())
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(part)
    return out


def _canon(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def preservation_report(original: str, result: CompressionResult) -> dict[str, bool]:
    """Which guarantees hold for ``result`` (examples dropped on purpose excluded)."""
    source = original
    for example in result.removed_examples:
        source = source.replace(example, "", 1)
    out = result.text
    report = {}
    report["code_blocks"] = all(source[s:e] in out for s, e in fenced_blocks(source))
    have = Counter(_canon(v) for v in json_blocks(out))
    need = Counter(_canon(v) for v in json_blocks(source))
    report["json_blocks"] = all(have[k] >= n for k, n in need.items())
    for name, regex in (
        ("numbers", NUMBER_RE),
        ("urls", URL_RE),
        ("emails", EMAIL_RE),
        ("identifiers", IDENTIFIER_RE),
        ("quoted_strings", QUOTED_RE),
    ):
        found = set(regex.findall(out))
        if name == "urls":
            needed = {u.rstrip(".,;:!?)]}'\"") for u in regex.findall(source)}
            report[name] = all(u in out for u in needed)
        elif name == "quoted_strings":
            report[name] = all(q in out for q in set(regex.findall(source)))
        else:
            report[name] = set(regex.findall(source)) <= found
    neg_in = Counter(w.lower() for part in distinct_statements(source) for w in NEGATION_RE.findall(part))
    neg_out = Counter(w.lower() for w in NEGATION_RE.findall(out))
    report["negations"] = all(neg_out[w] >= n for w, n in neg_in.items())
    return report
