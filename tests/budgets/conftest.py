"""Fixtures for budget tests: budgets and usage posted through the real ingestion service."""

from __future__ import annotations

import itertools

import pytest

from budgets.models import Budget
from budgets.services import budget_create
from ingestion.services import usage_ingest

_request_ids = itertools.count()


@pytest.fixture
def make_budget(db):
    def make(**values) -> Budget:
        values.setdefault("scope", Budget.SCOPE_USER)
        values.setdefault("period", Budget.PERIOD_MONTH)
        return budget_create(by=None, **values)

    return make


@pytest.fixture
def ingest(catalog):
    """Post one usage record as its user would (the budgets receiver runs inside)."""

    def post(user, *, prompt: int, completion: int, agent: str = "triage", model: str = "gpt-4o", **extra):
        payload = {
            "request_id": f"r-{next(_request_ids)}", "model": model, "agent": agent,
            "prompt_tokens": prompt, "completion_tokens": completion, **extra,
        }
        if "reservation_id" in payload:
            payload["reservation_id"] = str(payload["reservation_id"])
        if "occurred_at" in payload:
            payload["occurred_at"] = payload["occurred_at"].isoformat()
        (result,) = usage_ingest(user=user, api_key=None, payloads=[payload])
        assert result.status == "created", result.errors
        return result.record

    return post
