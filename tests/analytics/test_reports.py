"""GET /api/v1/reports/cost: summary, detailed and CSV, only the caller's numbers."""

from __future__ import annotations

import csv
import io

import pytest

from tests.analytics.conftest import post_usage, today_at


@pytest.fixture
def usage(user, other_user, acme):
    # alice: writer 2 calls of acme-large (1000 in / 100 out: $0.013 each), planner 1 of acme-small
    post_usage(user, occurred_at=today_at(0), count=2, run_id="run-1", tool="search")
    post_usage(
        user,
        occurred_at=today_at(0, days_ago=3),
        model="acme-small",
        agent="planner",
        run_id="run-2",
        optimization={"technique": "compress", "original_tokens": 1500},
    )
    post_usage(other_user, occurred_at=today_at(0), count=5)


@pytest.mark.django_db
def test_summary_report(api, usage):
    response = api.get("/api/v1/reports/cost?format=summary&period=7d")
    assert response.status_code == 200
    body = response.json()
    assert body["period"]["days"] == 7
    assert body["total_cost_usd"] == "0.02665"  # 2 x 0.013 + (1000 x 0.5 + 100 x 1.5) / 1M
    assert body["total_tokens"] == 3300
    assert body["total_requests"] == 3
    assert body["average_cost_per_request_usd"] == "0.008883333333"
    assert body["top_consumer"] == {
        "agent": "writer",
        "cost_usd": "0.026",
        "total_tokens": 2200,
        "share_of_cost": "0.9756",
    }
    # 500 prompt tokens saved at acme-small's $0.50 per 1M input
    assert body["optimization_savings"]["optimization_tokens"] == 500
    assert body["optimization_savings"]["optimization_usd"] == "0.00025"
    assert isinstance(body["recommendations"], list)


@pytest.mark.django_db
def test_detailed_report(api, usage):
    body = api.get("/api/v1/reports/cost?format=detailed&period=7d").json()
    assert [(a["key"], a["cost_usd"], a["requests"]) for a in body["by_agent"]] == [
        ("writer", "0.026", 2),
        ("planner", "0.00065", 1),
    ]
    assert [m["key"] for m in body["by_model"]] == ["acme-large", "acme-small"]
    assert len(body["daily_trend"]) == 7
    assert body["daily_trend"][-1]["cost_usd"] == "0.026"
    assert body["daily_trend"][-4]["requests"] == 1
    impact = body["optimization_impact"]
    assert (impact["optimized_requests"], impact["original_tokens"], impact["tokens_saved_reported"]) == (
        1,
        1500,
        500,
    )
    assert impact["techniques"] == [
        {"technique": "compress", "source": "usage_records", "requests": 1, "original_tokens": 1500}
    ]
    assert [r["run_id"] for r in body["top_runs"]] == ["run-1", "run-2"]


@pytest.mark.django_db
def test_csv_report_rows(api, usage):
    response = api.get("/api/v1/reports/cost?format=csv&period=7d")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["agent"], r["model"], r["tool"], r["requests"], r["cost_usd"]) for r in rows] == [
        ("planner", "acme-small", "", "1", "0.00065"),
        ("writer", "acme-large", "search", "2", "0.026"),
    ]


@pytest.mark.django_db
def test_other_users_numbers_stay_private(other_api, usage, api):
    assert other_api.get("/api/v1/reports/cost?period=7d").json()["total_requests"] == 5
    denied = api.get("/api/v1/reports/cost?period=7d&user=bob")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_service_key_reports_for_a_user(service_api, usage):
    assert service_api.get("/api/v1/reports/cost?period=7d&user=alice").json()["total_requests"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [
        ("period=abc", "period"),
        ("period=400d", "period"),
        ("start=2026-02-10&end=2026-02-01", "end"),
        ("start=2024-02-30", "start"),
        ("start=2024-02-01&end=2024-02-01T00:00", "end"),
        ("start=2024-02-01&end=%00", "end"),
        ("format=pdf", "format"),
    ],
)
def test_invalid_parameters(api, query, field):
    response = api.get(f"/api/v1/reports/cost?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_custom_period(api, usage):
    day = today_at(0, days_ago=3).date().isoformat()
    body = api.get(f"/api/v1/reports/cost?start={day}&end={day}").json()
    assert body["period"] == {"start": day, "end": day, "days": 1}
    assert body["total_requests"] == 1


@pytest.mark.django_db
def test_needs_authentication(client):
    assert client.get("/api/v1/reports/cost").status_code in (401, 403)
