"""Idempotency under concurrent duplicates: real threads, real connections.

On PostgreSQL (the CI second run) 16 threads race; SQLite serialises writers,
so the embedded run races 4 threads against the same invariant.
"""


import pytest

from ingestion.services import usage_ingest
from tests.concurrency import race
from tests.conftest import on_postgres
from tests.factories import UserFactory
from tokens.models import Run, UsageRecord

THREADS = 16 if on_postgres else 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_are_stored_and_counted_once(catalog):
    user = UserFactory(username="racer")
    payload = {"request_id": "same", "model": "gpt-4o", "run_id": "R",
               "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}

    results = race(lambda i: usage_ingest(user=user, api_key=None, payloads=[dict(payload)])[0], THREADS)

    statuses = sorted(r.status for r in results)
    assert statuses == ["created"] + ["duplicate"] * (THREADS - 1)
    assert len({r.record.pk for r in results}) == 1
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert Run.objects.filter(user=user, run_id="R").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_store_each_record_once(catalog):
    user = UserFactory(username="batcher")
    # every thread posts the same 50 request_ids, in a different order
    def batch(i: int):
        ids = list(range(50))
        ids = ids[i:] + ids[:i]
        payloads = [{"request_id": f"r{n}", "model": "gpt-4o", "prompt_tokens": n, "completion_tokens": 1}
                    for n in ids]
        return usage_ingest(user=user, api_key=None, payloads=payloads)

    results = race(batch, THREADS)

    created = sum(r.status == "created" for rs in results for r in rs)
    duplicates = sum(r.status == "duplicate" for rs in results for r in rs)
    assert created == 50
    assert duplicates == 50 * (THREADS - 1)
    assert UsageRecord.objects.filter(user=user).count() == 50
    assert sum(UsageRecord.objects.filter(user=user).values_list("input_tokens", flat=True)) == sum(range(50))
