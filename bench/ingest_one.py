"""One-record ingestion in one thread: the median time of the whole pipeline for a single usage record.

The commit half of every budget cycle (bench/budgets.py) without the contention, so a regression
shows as itself. Runs on the database of DATABASE_URL (migrated, with the catalog imported, as
bench/budgets.py leaves it); ``--root`` measures another checkout (an older one names the pipeline
``tokens.services.usage_records_ingest``). ``--profile`` prints where the time goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_budgets .venv/bin/python bench/ingest_one.py
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
parser.add_argument("--records", type=int, default=150)
parser.add_argument("--profile", action="store_true")
args = parser.parse_args()
sys.path.insert(0, args.root)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
os.environ.update({"DEBUG": "false", "SECRET_KEY": "bench-only-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1",
                   "NETRA_EMBEDDED_BEAT": "0", "LOG_LEVEL": "WARNING"})

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

if (Path(args.root) / "ingestion").is_dir():
    ingest = importlib.import_module("ingestion.services").usage_ingest
else:
    ingest = importlib.import_module("tokens.services").usage_records_ingest


def main() -> None:
    user, _ = get_user_model().objects.get_or_create(username=f"bench-one-{uuid.uuid4().hex[:8]}")

    def once() -> None:
        ingest(user=user, api_key=None, payloads=[{
            "request_id": uuid.uuid4().hex, "model": "gpt-4o", "agent": "bench",
            "usage": {"prompt_tokens": 100, "completion_tokens": 10}}])

    for _ in range(20):
        once()  # connections, catalog, compiled statements
    times = []
    for _ in range(args.records):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{args.root}: one-record ingestion median {statistics.median(times):.2f} ms over {args.records}")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: [once() for _ in range(100)])
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
