"""Schemathesis over every operation of /api/schema/, in-process, with one API key: any 5xx is a failure.

Used by tests/api/test_fuzz.py (a few examples per operation, each run) and bench/fuzz.py
(as many as asked; the figures of docs/reliability.md). The schema is read through the app
(``GET /api/schema/``), and each case goes through Django's WSGI handler, middleware included.
Both generation modes run: positive (what the schema allows) and negative (what it does not:
wrong types, missing fields, out-of-range values), each for every operation.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode


@dataclass
class FuzzReport:
    """What one run answered: statuses per operation, and every 5xx with how to reproduce it."""

    key: str
    examples: int
    statuses: Counter = field(default_factory=Counter)
    per_operation: dict[str, Counter] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def count(self, status_class: int) -> int:
        return sum(n for status, n in self.statuses.items() if status // 100 == status_class)

    def row(self) -> str:
        return (f"| {self.key} | {len(self.per_operation)} | {self.examples} | {self.requests} | {self.count(2)} "
                f"| {self.count(4)} | {self.count(5)} | {self.seconds:.0f} s |")


HEADER = ("| key | operations | examples per operation and mode | requests | 2xx | 4xx | 5xx | time |\n"
          "|---|---|---|---|---|---|---|---|")


def load_schema():
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def _examples(operation, mode, *, examples: int, seed: int | None, send) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def each(case):
        send(case)

    each()


def run(*, raw_key: str, label: str, examples: int, seed: int | None = 0) -> FuzzReport:
    """``examples`` cases per operation and generation mode, each sent with ``raw_key``."""
    report = FuzzReport(key=label, examples=examples)
    headers = {"Authorization": f"Bearer {raw_key}"}
    started = time.monotonic()
    for result in load_schema().get_all_operations():
        operation = result.ok()
        seen = report.per_operation.setdefault(f"{operation.method.upper()} {operation.path}", Counter())

        def send(case, seen=seen):
            response = case.call(headers=headers)
            seen[response.status_code] += 1
            report.statuses[response.status_code] += 1
            if response.status_code >= 500:
                report.server_errors.append(
                    f"{case.as_curl_command(headers=headers)}\n  -> {response.status_code} {response.text[:300]}")

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _examples(operation, mode, examples=examples, seed=seed, send=send)
    report.seconds = time.monotonic() - started
    return report
