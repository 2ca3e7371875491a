"""Prompt compression benchmark over bench/data/corpus.jsonl.

Reports, per level, the median and mean token reduction (counted with the
target model's tokenizer), the share of prompts for which every preservation
guarantee holds, and whether compressing twice equals compressing once.

    .venv/bin/python bench/compression.py [--model gpt-4o] [--by-category] [--max-examples N]

``--what-if-drop-numeric-context`` measures what the aggressive target would
need, not what the service does: it lets extractive shortening drop context
sentences that carry numbers or identifiers (breaking the "every number is
kept" guarantee, so preservation failures are expected and not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")

from optimization.compression import DEFAULT_MAX_EXAMPLES, LEVELS, compress, extractive  # noqa: E402
from optimization.compression.guarantees import NEGATION_RE  # noqa: E402
from optimization.compression.masking import PLACEHOLDER_RE  # noqa: E402
from optimization.compression.preservation import preservation_report  # noqa: E402
from tokens.tokenizer import count_text  # noqa: E402

CORPUS = ROOT / "bench" / "data" / "corpus.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--by-category", action="store_true")
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--what-if-drop-numeric-context", action="store_true")
    args = parser.parse_args()
    what_if = args.what_if_drop_numeric_context
    if what_if:
        # Numbers and identifiers no longer force a context sentence to stay.
        extractive.must_keep = lambda s: bool(
            PLACEHOLDER_RE.search(s) or NEGATION_RE.search(s) or extractive.CAUSAL_RE.search(s)
        )
        print("WHAT-IF run: context sentences with numbers may be dropped; the number guarantee is off")
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    count_text("warm up the encoding", args.model)
    compress("warm up the rules", level="aggressive")
    started = time.perf_counter()
    originals = [count_text(r["prompt"], args.model).tokens for r in rows]
    encode_ms = 1000 * (time.perf_counter() - started) / len(rows)
    print(f"corpus: {len(rows)} prompts, {sum(originals):,} tokens ({args.model}); "
          f"raw tiktoken encode {encode_ms:.3f} ms per prompt (the ceiling for 'ms per prompt' ratios)")
    print(
        "| level | median reduction | mean reduction | p10 / p90 | all guarantees held | idempotent "
        "| few-shot examples dropped | ms per prompt |"
    )
    print("|---|---|---|---|---|---|---|---|")
    failures = []
    by_cat: dict[str, dict[str, list[float]]] = {}
    for level in LEVELS:
        reductions, held, stable, dropped = [], 0, 0, 0
        started = time.perf_counter()
        results = [compress(r["prompt"], level=level, max_examples=args.max_examples) for r in rows]
        elapsed = time.perf_counter() - started
        for row, before, result in zip(rows, originals, results, strict=True):
            after = count_text(result.text, args.model).tokens
            pct = 100.0 * (before - after) / before if before else 0.0
            reductions.append(pct)
            by_cat.setdefault(row["category"], {}).setdefault(level, []).append(pct)
            report = preservation_report(row["prompt"], result)
            if all(report.values()):
                held += 1
            else:
                failures.append((level, row["id"], [k for k, v in report.items() if not v]))
            if compress(result.text, level=level, max_examples=args.max_examples).text == result.text:
                stable += 1
            dropped += len(result.removed_examples)
        q = statistics.quantiles(reductions, n=10)
        print(
            f"| {level} | {statistics.median(reductions):.1f}% | {statistics.mean(reductions):.1f}% "
            f"| {q[0]:.1f}% / {q[-1]:.1f}% | {held}/{len(rows)} | {stable}/{len(rows)} | {dropped} "
            f"| {1000 * elapsed / len(rows):.2f} |"
        )
    if args.by_category:
        print("\n| category | n | " + " | ".join(f"{lv} median" for lv in LEVELS) + " |")
        print("|---|---|" + "---|" * len(LEVELS))
        for cat, levels in by_cat.items():
            cells = " | ".join(f"{statistics.median(levels[lv]):.1f}%" for lv in LEVELS)
            print(f"| {cat} | {len(levels[LEVELS[0]])} | {cells} |")
    for level, rid, checks in [] if what_if else failures[:20]:
        print(f"PRESERVATION FAILED {level} {rid}: {', '.join(checks)}")
    return 1 if failures and not what_if else 0


if __name__ == "__main__":
    raise SystemExit(main())
