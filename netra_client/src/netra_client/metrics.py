"""Local run metrics: totals, by agent and by tool, shaped like GET /api/v1/runs/{run_id}."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from netra_client.results import UsageResult
from netra_client.usage import Counts

# Row key and the attribute of both ``Counts`` (local) and ``TokenBreakdown`` (the server's).
_FIELDS = (("input_tokens", "input"), ("cached_input_tokens", "cached_input"), ("cache_write_tokens", "cache_write"),
           ("output_tokens", "output"), ("reasoning_tokens", "reasoning"), ("total_tokens", "total"))


def _empty_row() -> dict[str, Any]:
    row: dict[str, Any] = {"requests": 0, **{key: 0 for key, _ in _FIELDS}, "cost_usd": Decimal(0),
                           "unpriced_requests": 0}
    return row


def _with_derived(row: dict) -> dict:
    row = dict(row)
    row["prompt_tokens"] = row["input_tokens"] + row["cached_input_tokens"] + row["cache_write_tokens"]
    row["completion_tokens"] = row["output_tokens"] + row["reasoning_tokens"]
    return row


class RunMetrics:
    """Counts each recorded call once; thread-safe (async wrappers record from worker threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocked_calls = 0
        self._totals = _empty_row()
        self._by_agent: dict[str, dict] = {}
        self._by_tool: dict[str, dict] = {}

    def blocked(self) -> None:
        with self.lock:
            self.blocked_calls += 1

    def count(self, agent: str, tool: str, counts: Counts, result: UsageResult | None) -> None:
        # The server's stored figures are the truth (the record may be a duplicate).
        source: Any = result.tokens if result is not None else counts
        values = {key: getattr(source, attr) for key, attr in _FIELDS}
        with self.lock:
            for row in (self._totals, self._by_agent.setdefault(agent, _empty_row()),
                        self._by_tool.setdefault(tool, _empty_row())):
                row["requests"] += 1
                for key, value in values.items():
                    row[key] += value
                if result is not None:
                    row["cost_usd"] += result.cost_usd
                else:
                    row["unpriced_requests"] += 1

    def snapshot(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            return {
                "run_id": run_id,
                "totals": _with_derived(self._totals),
                "by_agent": {k: _with_derived(v) for k, v in sorted(self._by_agent.items())},
                "by_tool": {k: _with_derived(v) for k, v in sorted(self._by_tool.items())},
                "blocked_calls": self.blocked_calls,
            }
