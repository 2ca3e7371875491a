"""Schemathesis over every operation of /api/schema/ with a customer key and a staff key: count the 5xx.

Runs in-process (Django's WSGI handler, every middleware) on a throwaway database, with the test
settings (DEBUG on, throttles off, so no 429 hides an answer); tests/api/fuzz.py is the runner the
suite uses with a few examples. Figures: docs/reliability.md.

    .venv/bin/python bench/fuzz.py --examples 50                       # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_fuzz .venv/bin/python bench/fuzz.py --examples 50

Exits 1 if any request answered 5xx, printing each with a curl command to reproduce it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.test_settings")
os.environ.setdefault("NETRA_EMBEDDED_BEAT", "0")

import django  # noqa: E402

django.setup()

from harness import scratch_database  # noqa: E402

from tests.api import fuzz  # noqa: E402
from tests.factories import UserFactory  # noqa: E402
from tokens.services import api_key_create, prices_import  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=50, help="per operation and generation mode (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="derandomize (default: random cases each run)")
    args = parser.parse_args()
    with scratch_database():
        catalog = ROOT / "tokens" / "data" / "default_catalog.json"
        prices_import(data=json.loads(catalog.read_text(), parse_float=Decimal), source=catalog.name)
        customer = UserFactory(username="alice")
        staff = UserFactory(username="root", is_staff=True, is_superuser=True)
        reports = []
        for label, user in (("customer", customer), ("staff", staff)):
            _, raw = api_key_create(user=user, name="fuzz")
            reports.append(fuzz.run(raw_key=raw, label=label, examples=args.examples, seed=args.seed))
            print(f"{label}: {reports[-1].requests} requests, {reports[-1].count(5)} 5xx", flush=True)
    print()
    print(fuzz.HEADER)
    for report in reports:
        print(report.row())
    errors = [error for report in reports for error in report.server_errors]
    for error in errors:
        print(error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
