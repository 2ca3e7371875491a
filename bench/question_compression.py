"""Question-aware compression on bench/data/qa_corpus.jsonl: token reduction and answer retention per level.

For each prompt (RAG, agent and chat; see bench/data/build_qa_corpus.py) the
compressor is given the question; the answer is *retained* when the
sentence that answers survives: some sentence of the output (or two
adjacent ones) holds at least 80% of its content words in order (the rules
may reword a few). Reported per level: median and p10 of the token reduction
(p10: nine prompts in ten save at least this), answer retention, and whether
every protected span (code, JSON, URLs, emails, quotations) that the lossless
``light`` level keeps is still there (distinct spans: light already merges
repeated lines).

    .venv/bin/python bench/question_compression.py [--model gpt-4o] [--ranker bm25|hashed|minilm]
        [--target-ratio 0.5] [--no-question] [--by-category] [--show-misses]

``--ranker minilm`` needs the optional extra (requirements-semantic.txt).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")

import django  # noqa: E402

django.setup()

from optimization.compression import LEVELS, compress, focus  # noqa: E402
from optimization.compression.masking import EMAIL_RE, QUOTED_RE, URL_RE, fenced_blocks  # noqa: E402
from optimization.compression.preservation import json_blocks  # noqa: E402
from optimization.compression.splitting import sentences  # noqa: E402
from optimization.embeddings import cosine_scores, hybrid_scores  # noqa: E402
from optimization.relevance import bm25_scores, terms  # noqa: E402
from tokens.tokenizer import count_text  # noqa: E402

CORPUS = ROOT / "bench" / "data" / "qa_corpus.jsonl"
RETAINED_SHARE = 0.8


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def retained(answer: str, output: str) -> bool:
    """Whether some sentence of ``output`` (or two adjacent) holds >= 80% of the answer's words in order."""
    want = terms(answer)
    if not want:
        return True
    pieces = [terms(s) for line in re.split(r"\n", " ".join(output.split(" "))) for s in sentences(line)]
    flat_pieces = [terms(s) for s in sentences(" ".join(output.split()))]
    best = 0
    for group in (pieces, flat_pieces):
        for i in range(len(group)):
            best = max(best, _lcs(want, group[i] + (group[i + 1] if i + 1 < len(group) else [])))
    return best >= RETAINED_SHARE * len(want)


def spans(text: str) -> set[str]:
    """The distinct protected spans of ``text``: fenced code, JSON values, URLs, emails, quotations."""
    found = {text[s:e] for s, e in fenced_blocks(text)}
    found |= {json.dumps(v, sort_keys=True) for v in json_blocks(text)}
    for regex in (URL_RE, EMAIL_RE, QUOTED_RE):
        found |= {m.rstrip(".,;:!?)]}'\"") if regex is URL_RE else m for m in regex.findall(text)}
    return found


def quantile10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--ranker", default="bm25",
                        choices=("bm25", "hashed", "minilm", "hybrid-hashed", "hybrid-minilm"))
    parser.add_argument("--target-ratio", type=float, default=None, help="keep at most this share of the tokens")
    parser.add_argument("--no-question", action="store_true", help="the old pipeline, for comparison")
    parser.add_argument("--by-category", action="store_true")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--keep", type=float, default=focus.AGGRESSIVE_KEEP, help="what-if: aggressive keep share")
    parser.add_argument("--min-kept", type=int, default=focus.MIN_KEPT, help="what-if: aggressive minimum sentences")
    args = parser.parse_args()
    focus.AGGRESSIVE_KEEP, focus.MIN_KEPT = args.keep, args.min_kept
    if args.ranker == "bm25":
        ranker = bm25_scores
    elif args.ranker.startswith("hybrid-"):
        ranker = functools.partial(hybrid_scores, kind=args.ranker.removeprefix("hybrid-"))
    else:
        ranker = functools.partial(cosine_scores, kind=args.ranker)
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]

    def count(text: str) -> int:
        return count_text(text, args.model).tokens

    originals = [count(r["prompt"]) for r in rows]
    print(f"aggressive keeps {focus.AGGRESSIVE_KEEP:.0%} of the material, at least {focus.MIN_KEPT} sentences")
    print(f"corpus: {len(rows)} prompts ({', '.join(sorted({r['category'] for r in rows}))}), "
          f"{sum(originals):,} tokens ({args.model}); ranker {args.ranker}; "
          f"{'no question' if args.no_question else 'question given'}"
          + (f"; target_ratio {args.target_ratio}" if args.target_ratio else ""))
    print("| level | median reduction | p10 reduction | answer retained | protected spans kept | target met "
          "| ms per prompt |")
    print("|---|---|---|---|---|---|---|")
    by_cat: dict[str, dict[str, list[tuple[float, bool]]]] = {}
    misses = []
    # Spans the lossless level keeps (its repeated-line and whitespace steps already merge some).
    lossless = [spans(compress(r["prompt"], level="light").text) for r in rows]
    for level in LEVELS:
        reductions, kept, kept_spans, met = [], 0, 0, 0
        started = time.perf_counter()
        results = [
            compress(r["prompt"], level=level, question="" if args.no_question else r["question"], ranker=ranker,
                     target_tokens=int(args.target_ratio * n) if args.target_ratio else None,
                     count=count if args.target_ratio else None)
            for r, n in zip(rows, originals, strict=True)
        ]
        elapsed = time.perf_counter() - started
        for row, before, result, need in zip(rows, originals, results, lossless, strict=True):
            pct = 100.0 * (before - count(result.text)) / before
            ok = all(retained(a, result.text) for a in row["answers"])
            reductions.append(pct)
            kept += ok
            kept_spans += need <= spans(result.text)
            met += bool(result.target_met)
            by_cat.setdefault(row["category"], {}).setdefault(level, []).append((pct, ok))
            if not ok:
                misses.append((level, row["id"], row["question"], row["answers"][0]))
        print(f"| {level} | {statistics.median(reductions):.1f}% | {quantile10(reductions):.1f}% "
              f"| {kept}/{len(rows)} ({100 * kept / len(rows):.0f}%) | {kept_spans}/{len(rows)} "
              f"| {f'{met}/{len(rows)}' if args.target_ratio else 'n/a'} | {1000 * elapsed / len(rows):.1f} |")
    if args.by_category:
        print("\n| category | n | " + " | ".join(f"{lv} median / retained" for lv in LEVELS) + " |")
        print("|---|---|" + "---|" * len(LEVELS))
        for cat, levels in sorted(by_cat.items()):
            cells = " | ".join(
                f"{statistics.median(p for p, _ in levels[lv]):.1f}% / {sum(ok for _, ok in levels[lv])}"
                for lv in LEVELS
            )
            print(f"| {cat} | {len(levels[LEVELS[0]])} | {cells} |")
    if args.show_misses:
        for level, rid, question, answer in misses:
            print(f"MISS {level} {rid}: {question!r} -> {answer[:90]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
