"""The bad-input table of docs/reliability.md: NUL, lone surrogates, over-long text, impossible dates and
malformed ids in every body string and key, query parameter and path id of every operation, and in one
record of a batch among valid ones.

Runs the suite's case table (tests/api/bad_input.py) in-process on a throwaway database:

    .venv/bin/python bench/bad_input.py                                           # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_badinput .venv/bin/python bench/bad_input.py

Exits 1 on any 5xx, a 400 that does not name its field, or a lost valid record.
"""

from __future__ import annotations

import json
import logging
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
from rest_framework.test import APIClient  # noqa: E402

from tests.api import bad_input  # noqa: E402
from tests.factories import UserFactory  # noqa: E402
from tokens.services import api_key_create, prices_import  # noqa: E402


def client_for(user) -> APIClient:
    _, raw = api_key_create(user=user, name="bad-input")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def main() -> int:
    logging.disable(logging.WARNING)  # one "Bad Request" line per case otherwise
    with scratch_database():
        catalog = ROOT / "tokens" / "data" / "default_catalog.json"
        prices_import(data=json.loads(catalog.read_text(), parse_float=Decimal), source=catalog.name)
        alice = UserFactory(username="alice")
        staff = UserFactory(username="root", is_staff=True, is_superuser=True)
        cases = bad_input.run(alice=alice, client=client_for(alice), staff_client=client_for(staff))
    print(bad_input.table(cases))
    broken = bad_input.failures(cases)
    for case in broken:
        print(case)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
