#!/usr/bin/env python3
"""POST /api/v1/tokens/count on a 100 KB text, beside tiktoken counting the same text directly.

    .venv/bin/python bench/count.py [--database-url postgres://postgres@127.0.0.1:5432/netra_count]
                                    [--kb 100] [--rounds 5] [--requests 30]

Starts the serving set as ``make serve`` does (gunicorn HTTP, daphne WebSockets) on a bench database
(DROPPED and recreated), then per round, back to back: ``len(enc.encode(text))`` with the model's
encoding in this process (raw), and the same text posted to the endpoint by one client over a kept-alive
connection (app). Each side's figure is the median time of ``--requests`` calls; the ratio is the median
of the per-round ratios (target: within 2x).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from harness import ServeSet
from ingest import PYTHON, recreate_database, run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tokens.tokenizer import choose_tokenizer, get_encoding  # noqa: E402

CORPUS = ROOT / "bench" / "data" / "corpus.jsonl"


def prose(size: int) -> str:
    """``size`` characters of the compression corpus's English prompts, repeated."""
    text = " ".join(json.loads(line)["prompt"] for line in CORPUS.read_text().splitlines() if line.strip())
    return (text * (size // len(text) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/netra_count",
                        help="bench database; DROPPED and recreated")
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--kb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30, help="calls per side per round")
    parser.add_argument("--workers", type=int, default=2, help="HTTP processes")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=args.database_url, DEBUG="False", SECRET_KEY="bench-" + uuid.uuid4().hex,
               ALLOWED_HOSTS="127.0.0.1,localhost", NETRA_EMBEDDED_BEAT="0", LOG_LEVEL="WARNING")
    recreate_database(args.database_url)
    run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    run([PYTHON, "manage.py", "import_prices"], env)
    key = run([PYTHON, "manage.py", "create_api_key", "bench", "--create-user", "--name", "bench"],
              env).strip().splitlines()[-1]

    text = prose(args.kb * 1000)
    enc = get_encoding(choose_tokenizer(args.model).encoding)
    expected = len(enc.encode(text, disallowed_special=()))
    body = json.dumps({"model": args.model, "text": text}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    server = ServeSet(env=env, workers=args.workers)
    raw_ms, app_ms, ratios = [], [], []
    try:
        server.wait_ready(key)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

        def post() -> float:
            began = time.perf_counter()
            conn.request("POST", "/api/v1/tokens/count", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - began
            if response.status != 200 or json.loads(payload)["tokens"] != expected:
                sys.exit(f"count got {response.status}: {payload[:300]!r}")
            return elapsed

        def direct() -> float:
            began = time.perf_counter()
            n = len(enc.encode(text, disallowed_special=()))
            elapsed = time.perf_counter() - began
            assert n == expected
            return elapsed

        for _ in range(5):
            post()
        for r in range(args.rounds):
            raw = statistics.median(direct() for _ in range(args.requests))
            app = statistics.median(post() for _ in range(args.requests))
            raw_ms.append(raw * 1000)
            app_ms.append(app * 1000)
            ratios.append(app / raw)
            print(f"round {r + 1}: tiktoken {raw * 1000:6.1f} ms, endpoint {app * 1000:6.1f} ms, "
                  f"{app / raw:.2f}x", flush=True)
        conn.close()
    finally:
        server.stop()
    ratio = statistics.median(ratios)
    print()
    print(f"{args.kb} KB of prose, {expected:,} tokens ({args.model}), median of {args.rounds} rounds of "
          f"{args.requests} calls each, {server.workers} HTTP worker(s)")
    print("| what | p50 ms | ratio | target |")
    print("|---|---|---|---|")
    print(f"| tiktoken encode, in process | {statistics.median(raw_ms):.1f} | 1.00x | |")
    print(f"| POST /api/v1/tokens/count, 1 client | {statistics.median(app_ms):.1f} | {ratio:.2f}x | "
          f"<= 2x {'met' if ratio <= 2 else 'MISSED'} |")


if __name__ == "__main__":
    main()
