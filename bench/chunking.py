"""Token-exact chunking speed: time per request shape, with the join-back check.

    .venv/bin/python bench/chunking.py [--model gpt-4o]

Shapes: a 1 MB prose text (the compression corpus repeated) at 500 and 8000
tokens per chunk and with overlap, and "word " repeated at 1 token per chunk
(the shape that once took minutes: packing re-counted the growing chunk for
every piece). Raw ceiling: one tiktoken encode of the same text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimization.chunking import chunk_text  # noqa: E402
from tokens.tokenizer import choose_tokenizer, get_encoding  # noqa: E402

CORPUS = ROOT / "bench" / "data" / "corpus.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt-4o")
    args = parser.parse_args()
    prose = " ".join(json.loads(line)["prompt"] for line in CORPUS.read_text().splitlines() if line.strip())
    prose = (prose * (1_000_000 // len(prose) + 1))[:1_000_000]
    cases = [
        ("prose 1 MB", prose, 8000, 0),
        ("prose 1 MB", prose, 500, 0),
        ("prose 1 MB", prose, 500, 50),
        ("'word ' x 40,000", "word " * 40_000, 1, 0),
        ("'word ' x 200,000", "word " * 200_000, 1, 0),
    ]
    enc = get_encoding(choose_tokenizer(args.model).encoding)
    print("| text | chars | max tokens | overlap | chunks | seconds | raw encode s | joins back | largest chunk |")
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name, text, max_tokens, overlap in cases:
        started = time.perf_counter()
        enc.encode(text, disallowed_special=())
        raw = time.perf_counter() - started
        started = time.perf_counter()
        chunks = chunk_text(text, model=args.model, max_tokens=max_tokens, overlap_tokens=overlap)
        elapsed = time.perf_counter() - started
        joins = "n/a (overlap)" if overlap else str("".join(c.text for c in chunks) == text)
        largest = max(c.tokens for c in chunks)
        failed |= largest > max_tokens or joins == "False"
        print(f"| {name} | {len(text):,} | {max_tokens} | {overlap} | {len(chunks):,} | {elapsed:.2f} | {raw:.3f} "
              f"| {joins} | {largest} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
