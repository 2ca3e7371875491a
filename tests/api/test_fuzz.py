"""Schemathesis over every operation with a customer key and a staff key: no 5xx (bounded: a few examples each)."""

from __future__ import annotations

import pytest

from tests.api import fuzz

EXAMPLES = 6  # per operation and generation mode; bench/fuzz.py runs many more (docs/reliability.md)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["customer", "staff"])
def test_schemathesis_finds_no_server_error(who, user, staff_user, make_client, catalog):
    caller = user if who == "customer" else staff_user
    report = fuzz.run(raw_key=make_client(caller).raw_key, label=who, examples=EXAMPLES)
    print(fuzz.HEADER, report.row(), sep="\n")
    assert len(report.per_operation) >= 27
    assert report.requests >= len(report.per_operation)
    assert report.server_errors == []
