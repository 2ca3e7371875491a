"""How long validating a 1000-record usage batch takes (``tokens.usage_input.parse_usage_record``).

No services needed: the validator is pure Python (it reads no table). Prints the median and
p90 over ``--rounds`` batches of realistic records (usage shapes of both providers, run ids,
tools, optimization, metadata), and validating the same number of ``json.loads`` calls of the
records as a floor measured in the same run.

    .venv/bin/python bench/usage_validate.py
    .venv/bin/python bench/usage_validate.py --root /tmp/other-checkout   # another version's validator
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent),
                    help="checkout whose validator to measure (default: this one)")
parser.add_argument("--rounds", type=int, default=200)
parser.add_argument("--records", type=int, default=1000)
args = parser.parse_args()
sys.path.insert(0, args.root)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("NETRA_EMBEDDED_BEAT", "0")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402
from harness import percentile  # noqa: E402

from tokens.usage_input import parse_usage_record  # noqa: E402


def batch(n: int) -> list[dict]:
    now = timezone.now()
    records = []
    for i in range(n):
        record = {
            "request_id": f"req-{i:06d}", "model": "gpt-4o" if i % 2 else "claude-sonnet-4-5",
            "agent": ("triage", "data", "writer")[i % 3], "tool": "search", "run_id": f"run-{i // 50}",
            "occurred_at": now.isoformat(), "latency_ms": 850,
            "metadata": {"trace": f"t-{i}", "step": i % 7, "tags": ["prod", "eu"]},
        }
        if i % 2:
            record["usage"] = {"prompt_tokens": 1200, "completion_tokens": 300,
                               "prompt_tokens_details": {"cached_tokens": 200}}
        else:
            record["usage"] = {"input_tokens": 40, "cache_read_input_tokens": 1000, "output_tokens": 70}
        if i % 5 == 0:
            record["optimization"] = {"technique": "compression", "original_tokens": 1500}
        records.append(record)
    return records


def main() -> None:
    records = batch(args.records)
    text = [json.dumps(r) for r in records]
    now = timezone.now()
    provider_of = {"gpt-4o": "openai", "claude-sonnet-4-5": "anthropic"}.get
    validate, floor = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for record in records:
            parse_usage_record(record, provider_of=provider_of, now=now)
        validate.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        for line in text:
            json.loads(line)
        floor.append((time.perf_counter() - start) * 1000)
    print(f"validator of {args.root}")
    print(f"{args.records} records: validate p50 {percentile(validate, 50):.2f} ms,"
          f" p90 {percentile(validate, 90):.2f} ms;"
          f" json.loads of the same records p50 {percentile(floor, 50):.2f} ms"
          f" (ratio {percentile(validate, 50) / percentile(floor, 50):.2f})")


if __name__ == "__main__":
    main()
