"""The run page: one run's calls in order, paginated, for its owner, org managers (their org's calls) and staff."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.run_page import RUN_PAGE_SIZE
from tests.analytics.org_fixtures import acme_org, day_at, record


@pytest.fixture
def acme(db):
    data = acme_org()
    start = day_at(0, hour=1)
    # Stored out of order: the page sorts by time.
    record(data["mia"], data["org"], at=start + timedelta(seconds=2), run_id="r-1", agent="writer", cost="0.8527",
           tokens=1200, latency_ms=850, optimization_technique="compression")
    record(data["mia"], data["org"], at=start, run_id="r-1", agent="planner", cost="1.5", tokens=300,
           latency_ms=1200)
    record(data["mia"], None, at=start + timedelta(seconds=5), run_id="r-1", agent="writer",
           cost="0.00002", tokens=10, cache_hit=True)
    return data


def test_owner_sees_every_call_in_order(client, acme):
    client.force_login(acme["mia"])
    response = client.get("/runs/r-1/")
    assert response.status_code == 200
    calls = [(n, c.agent, c.cost_usd) for n, c in response.context["calls"]]
    assert calls == [
        (1, "planner", Decimal("1.5")), (2, "writer", Decimal("0.8527")), (3, "writer", Decimal("0.00002"))]
    page = response.content.decode()
    assert "$1.50" in page and "$0.8527" in page and "&lt;$0.0001" in page  # money the one way
    assert "1,200 ms" in page and "850 ms" in page
    assert '<span class="flag">compression</span>' in page and '<span class="flag">cache hit</span>' in page
    assert response.context["summary"]["cost_usd"] == Decimal("2.35272")


def test_org_admin_sees_only_their_organizations_calls(client, acme):
    client.force_login(acme["adam"])
    response = client.get("/runs/r-1/?user=mia")
    assert response.status_code == 200
    assert [c.organization_id for _, c in response.context["calls"]] == [acme["org"].pk] * 2
    assert "Only the calls attributed to organizations you manage are shown." in response.content.decode()


def test_staff_sees_all_calls(client, acme, staff_user):
    client.force_login(staff_user)
    assert len(client.get("/runs/r-1/?user=mia").context["calls"]) == 3


@pytest.mark.parametrize("who, url", [
    ("bob", "/runs/r-1/?user=mia"),     # owner of another organization
    ("olga", "/runs/r-1/"),             # her own run r-1 does not exist
    ("olga", "/runs/r-1/?user=ghost"),
    ("mia", "/runs/other/"),
])
def test_anyone_else_gets_a_404(client, acme, who, url):
    record(acme["bob"], acme["globex"], run_id="r-1")  # bob's own r-1 does not open mia's
    client.force_login(acme[who])
    assert client.get(url).status_code == 404


def test_a_plain_member_cannot_open_a_colleagues_run(client, acme):
    record(acme["olga"], acme["org"], run_id="r-9")
    client.force_login(acme["mia"])
    assert client.get("/runs/r-9/?user=olga").status_code == 404


def test_long_runs_are_paginated(client, acme):
    start = day_at(1)
    for i in range(RUN_PAGE_SIZE + 3):
        record(acme["mia"], acme["org"], at=start + timedelta(seconds=i), run_id="long", agent=f"a{i}")
    client.force_login(acme["mia"])
    first = client.get("/runs/long/")
    assert [n for n, _ in first.context["calls"]][:1] == [1] and len(first.context["calls"]) == RUN_PAGE_SIZE
    assert 'href="?page=2" rel="next"' in first.content.decode()
    last = client.get("/runs/long/?page=2")
    assert [(n, c.agent) for n, c in last.context["calls"]] == [
        (RUN_PAGE_SIZE + 1, f"a{RUN_PAGE_SIZE}"), (RUN_PAGE_SIZE + 2, f"a{RUN_PAGE_SIZE + 1}"),
        (RUN_PAGE_SIZE + 3, f"a{RUN_PAGE_SIZE + 2}")]
    for bad in ("3", "0", "x", "-1"):
        response = client.get(f"/runs/long/?page={bad}")
        assert response.status_code == 400
        assert "page must be a whole number from 1 to 2." in response.content.decode()


def test_needs_login(client, acme):
    assert client.get("/runs/r-1/").status_code == 302
