#!/usr/bin/env python3
"""Time ``usage_ingest`` for 1000-record batches in-process (no HTTP), for before/after comparisons.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_pricing_bench \\
        .venv/bin/python bench/ingest_inprocess.py [--rounds 7] [--batch 1000]

The database named by DATABASE_URL is dropped and recreated (PostgreSQL), or a
temporary SQLite file is used when DATABASE_URL is unset. Each round ingests a
fresh batch of OpenAI Chat, Responses and Anthropic records (cached reads,
cache writes, reasoning) of catalog models, one transaction per batch, and the
median and best wall time per batch are printed, and the CPU time of this
process (validation, pricing, statement building: the part a busy shared
machine blurs least). Pricing, store, rollup and
budget steps all run; live events go to the in-memory layer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _prepare_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"


def _payloads(n: int, tag: str) -> list[dict]:
    shapes = [
        ("gpt-4o", {"prompt_tokens": 1200, "completion_tokens": 300,
                    "prompt_tokens_details": {"cached_tokens": 1024},
                    "completion_tokens_details": {"reasoning_tokens": 0}}),
        ("o3", {"input_tokens": 900, "output_tokens": 700, "total_tokens": 1600,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 512}}),
        ("claude-sonnet-4-5", {"input_tokens": 40, "output_tokens": 250, "cache_read_input_tokens": 3000,
                               "cache_creation_input_tokens": 500}),
    ]
    out = []
    for i in range(n):
        model, usage = shapes[i % len(shapes)]
        out.append({"request_id": f"{tag}-{i}", "model": model, "agent": f"agent-{i % 7}", "tool": "search",
                    "run_id": f"run-{tag}-{i % 20}", "usage": usage})
    return out


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--rounds", type=int, default=7)
parser.add_argument("--batch", type=int, default=1000)
args = parser.parse_args()
_prepare_database()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from ingestion.services import usage_ingest  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("import_prices", verbosity=0)
    user = get_user_model().objects.create_user("bench")
    usage_ingest(user=user, api_key=None, payloads=_payloads(50, "warm"))
    times, cpu = [], []
    for _ in range(args.rounds):
        payloads = _payloads(args.batch, uuid.uuid4().hex[:8])
        start, start_cpu = time.perf_counter(), time.process_time()
        results = usage_ingest(user=user, api_key=None, payloads=payloads)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert all(r.status == "created" for r in results), [r.errors for r in results if r.errors][:3]
    vendor = os.environ["DATABASE_URL"].split(":", 1)[0]
    print(f"usage_ingest, {args.batch} records per batch, {args.rounds} rounds, {vendor}: "
          f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms; "
          f"this process's CPU: median {statistics.median(cpu) * 1000:.0f} ms, best {min(cpu) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
