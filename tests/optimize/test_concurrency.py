"""Cache counters under concurrent lookups: every lookup is counted exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from optimization.cache import cache_lookup
from optimization.models import ResponseCacheCounter
from tests.conftest import on_postgres
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_lookups_of_the_day_count_every_miss():
    user = UserFactory(username="carol")
    # The PostgreSQL server is shared by several suites: 4 connections are enough to race.
    threads_n, per_thread = (4, 10) if on_postgres else (2, 5)
    barrier = threading.Barrier(threads_n)
    errors = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                cache_lookup(user=user, model="gpt-4o", messages=[{"role": "user", "content": f"{n}-{i}"}])
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    row = ResponseCacheCounter.objects.get(user=user)
    assert (row.hits, row.misses) == (0, threads_n * per_thread)
