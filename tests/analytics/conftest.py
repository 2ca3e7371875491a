"""Helpers for the analytics tests: usage posted through the real ingestion path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingestion.services import usage_ingest
from tests.factories import ModelPriceFactory

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def today_at(hour: int = 0, days_ago: int = 0) -> datetime:
    now = datetime.now(UTC)
    return (now - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)


_seq = iter(range(10**9))


def post_usage(
    user,
    *,
    occurred_at: datetime,
    model: str = "acme-large",
    agent: str = "writer",
    tool: str = "",
    prompt: int = 1000,
    completion: int = 100,
    count: int = 1,
    run_id: str = "",
    **extra,
) -> None:
    payloads = []
    for _ in range(count):
        payloads.append(
            {
                "request_id": f"t-{next(_seq)}",
                "model": model,
                "agent": agent,
                "tool": tool,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
                "run_id": run_id,
                **extra,
            }
        )
    results = usage_ingest(user=user, api_key=None, payloads=payloads)
    assert {r.status for r in results} == {"created"}, [r.errors for r in results]


@pytest.fixture
def acme(db):
    """A three-model provider with round prices (USD per 1M tokens, input/output)."""
    return {
        "large": ModelPriceFactory(
            name="acme-large",
            provider="acme",
            input_per_million=Decimal(10),
            output_per_million=Decimal(30),
            context_window=200_000,
            valid_from=EPOCH,
        ),
        "medium": ModelPriceFactory(
            name="acme-medium",
            provider="acme",
            input_per_million=Decimal(5),
            output_per_million=Decimal(15),
            context_window=200_000,
            valid_from=EPOCH,
        ),
        "small": ModelPriceFactory(
            name="acme-small",
            provider="acme",
            input_per_million=Decimal("0.5"),
            output_per_million=Decimal("1.5"),
            context_window=200_000,
            valid_from=EPOCH,
        ),
    }
