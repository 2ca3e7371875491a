"""A key the server computes but no OutputSerializer declares would be dropped from the answer without a word
(DRF renders declared fields only). The dict-shaped answers are held here: everything their selectors and
reports return is declared, so a field added below the API reaches it or fails this test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from analytics import reports
from analytics.api import CostReportDetailedSerializer, CostReportSummarySerializer, ReportReconciliationApi
from analytics.selectors import period_parse
from budgets.api import BudgetListApi
from budgets.forecast import budgets_for_user_forecast
from budgets.services import budget_create
from ingestion.services import usage_ingest
from tokens import selectors
from tokens.api import RunDetailApi, UsageSummaryApi


def undeclared(field: serializers.Field, data: Any, path: str = "") -> list[str]:
    """The keys of ``data`` (nested too) that ``field`` would not render."""
    if isinstance(field, serializers.ListSerializer):
        return [key for item in data for key in undeclared(field.child, item, f"{path}[].")]
    if isinstance(field, serializers.DictField) and isinstance(field.child, serializers.Serializer):
        return [key for name, item in data.items() for key in undeclared(field.child, item, f"{path}{{{name}}}.")]
    if not isinstance(field, serializers.Serializer) or not isinstance(data, dict):
        return []
    out = [f"{path}{key}" for key in data if key not in field.fields]
    for name, child in field.fields.items():
        if data.get(name) is not None:
            out += undeclared(child, data[name], f"{path}{name}.")
    return out


@pytest.mark.django_db
def test_every_key_the_selectors_and_reports_return_is_declared(user, catalog):
    results = usage_ingest(user=user, api_key=None, payloads=[
        {"request_id": "a", "model": "gpt-4o", "agent": "triage", "tool": "search", "run_id": "run-1",
         "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 200}},
         "optimization": {"technique": "compression", "original_tokens": 1500}},
        {"request_id": "b", "model": "anthropic/claude-sonnet-4-5", "agent": "writer", "run_id": "run-1",
         "service_tier": "batch", "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "cost": 0.004}},
        {"request_id": "c", "model": "whisper-1", "usage": {"type": "duration", "seconds": 12}},
        {"request_id": "d", "model": "no-such-model", "prompt_tokens": 1, "completion_tokens": 1},
    ])
    assert {r.status for r in results} == {"created"}, [r.errors for r in results]
    budget_create(by=None, scope="user", user=user, limit_usd=Decimal("10"), period="month")
    period = period_parse(period="30d", start=None, end=None)
    run = selectors.run_get(user=user, run_id="run-1")
    answers = {
        **{f"usage summary by {by}": (UsageSummaryApi.OutputSerializer(),
                                      selectors.usage_summary(user=user, group_by=by)) for by in selectors.GROUPINGS},
        "run": (RunDetailApi.OutputSerializer(), selectors.run_metrics(run=run)),
        "report summary": (CostReportSummarySerializer(), reports.report_summary(user=user, period=period)),
        "report detailed": (CostReportDetailedSerializer(), reports.report_detailed(user=user, period=period)),
        "reconciliation": (ReportReconciliationApi.OutputSerializer(),
                           reports.report_reconciliation(user=user, period=period)),
        "budgets": (BudgetListApi.ListOutputSerializer(), {"budgets": budgets_for_user_forecast(user=user)}),
    }
    dropped = {name: keys for name, (serializer, data) in answers.items() if (keys := undeclared(serializer, data))}
    assert dropped == {}
    assert reports.report_reconciliation(user=user, period=period)["by_model"], "a provider cost to reconcile"
