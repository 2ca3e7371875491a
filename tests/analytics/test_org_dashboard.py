"""The organization view: who may open it, its filters, the change against the previous period, latency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from organizations.models import Project
from tests.analytics.org_fixtures import acme_org, record
from tokens.services import api_key_create

URL = "/dashboard/org/acme/"


@pytest.fixture
def acme(db):
    data = acme_org()
    org = data["org"]
    record(data["mia"], org, cost="1.25", tokens=2000, agent="writer", model="gpt-4o", project=data["web"],
           api_key=data["key"], tags=["prod", "eu"], latency_ms=100, run_id="mia-run")
    record(data["mia"], org, cost="0.25", tokens=500, agent="planner", model="gpt-4o-mini", tags=["dev"],
           latency_ms=300, cache_hit=True)
    record(data["adam"], org, cost="2", tokens=4000, agent="writer", model="gpt-4o", project=data["etl"],
           tags=["prod"], latency_ms=200, run_id="adam-run")
    record(data["adam"], org, days_ago=10, cost="3", tokens=1000)  # the previous 7 days
    record(data["bob"], data["globex"], cost="99", tokens=99_000, agent="bob-secret-agent", run_id="bob-run")
    return data


@pytest.mark.parametrize("who, status", [("olga", 200), ("adam", 200), ("mia", 404), ("bob", 404)])
def test_only_owners_admins_and_staff_open_it(client, acme, who, status):
    client.force_login(acme[who])
    assert client.get(URL).status_code == status


def test_staff_opens_any_organization_and_strangers_get_the_same_404(client, acme, staff_user):
    client.force_login(staff_user)
    assert client.get(URL).status_code == 200
    assert client.get("/dashboard/org/nope/").status_code == 404


def test_all_members_spend_with_change_and_latency(client, acme):
    client.force_login(acme["olga"])
    response = client.get(URL + "?period=7d")
    page = response.content.decode()
    ctx = response.context
    assert ctx["totals"]["cost_usd"] == Decimal("3.5")
    assert ctx["totals"]["requests"] == 3
    assert ctx["change"]["cost_usd"] == {"previous": Decimal(3), "delta": Decimal("0.5"), "percent": Decimal("16.7")}
    assert ctx["change"]["requests"]["percent"] == Decimal("200.0")
    assert ctx["latency"] == {"count": 3, "p50": 200, "p95": 300}
    assert [(r["user__username"], r["cost_usd"]) for r in ctx["by_user"]] == [("adam", 2), ("mia", Decimal("1.5"))]
    assert "+16.7%</span> vs $3.00" in page
    assert "200 / 300 ms" in page
    assert "bob-secret-agent" not in page and "bob-run" not in page and "$99" not in page
    # Top runs link to the run page, naming the member whose run it is.
    assert '<a href="/runs/adam-run/?user=adam">adam-run</a>' in page


@pytest.mark.parametrize("query, cost, requests", [
    ("user=mia", Decimal("1.5"), 2),
    ("project=web", Decimal("1.25"), 1),
    ("tag=prod", Decimal("3.25"), 2),
    ("tag=dev&agent=planner", Decimal("0.25"), 1),
    ("agent=writer&model=gpt-4o", Decimal("3.25"), 2),
    ("model=gpt-4o-mini", Decimal("0.25"), 1),
    ("tag=nowhere", Decimal(0), 0),
])
def test_filters(client, acme, query, cost, requests):
    client.force_login(acme["adam"])
    response = client.get(f"{URL}?period=7d&{query}")
    assert response.status_code == 200
    assert (response.context["totals"]["cost_usd"], response.context["totals"]["requests"]) == (cost, requests)


def test_custom_dates_and_the_filter_form_keep_them(client, acme):
    client.force_login(acme["olga"])
    day = acme["mia"].date_joined.date().isoformat()  # today: the fixture's records
    response = client.get(f"{URL}?period=custom&start={day}&end={day}&user=mia")
    assert (response.context["period"].days, response.context["totals"]["requests"]) == (1, 2)
    page = response.content.decode()
    assert '<option value="custom" selected>custom dates</option>' in page
    assert f'<a href="?start={day}&amp;end={day}">Clear filters</a>' in page
    assert '<option value="14d" selected>14 days</option>' in client.get(f"{URL}?period=14d").content.decode()


def test_keys_listed_are_the_organizations(client, acme):
    globex_project = Project.objects.create(organization=acme["globex"], name="G", slug="g")
    elsewhere, _ = api_key_create(user=acme["adam"], name="adam-at-globex")
    elsewhere.project = globex_project
    elsewhere.save(update_fields=["project"])
    client.force_login(acme["olga"])
    keys = [name for _, name in client.get(URL).context["choices"]["keys"]]
    assert any(name.startswith("mia-web (") for name in keys)
    assert not any("adam-at-globex" in name for name in keys)
    assert client.get(f"{URL}?key={elsewhere.pk}").status_code == 400


def test_filter_by_key(client, acme):
    client.force_login(acme["olga"])
    response = client.get(f"{URL}?key={acme['key'].pk}")
    assert response.context["totals"]["cost_usd"] == Decimal("1.25")


def test_empty_filters_show_the_no_data_state(client, acme):
    client.force_login(acme["olga"])
    page = client.get(f"{URL}?tag=nowhere").content.decode()
    assert "No spend in this period for these filters." in page
    assert 'id="chart-daily"' not in page


@pytest.mark.parametrize("query, message", [
    ("user=bob", "'bob' is not a member of Acme."),
    ("user=ghost", "'ghost' is not a member of Acme."),
    ("project=nope", "Acme has no project 'nope'."),
    ("key=abc", "key must be the number of one of the organization's keys."),
    ("key=999999", "Acme has no key 999999."),
    ("tag=" + "x" * 101, "tag must be at most 100 printable characters."),
    ("agent=a%07b", "agent must be at most 100 printable characters."),
    ("period=0d", "period must look like 7d, 30d or 90d (1 to 366 days)."),
    ("start=2026-13-01", "start and end must be ISO dates (YYYY-MM-DD)."),
    ("start=2026-03-01&end=2026-01-01", "end must not be before start."),
    ("period=custom&start=&end=", "A custom period needs a start date."),
])
def test_bad_values_are_a_400_page(client, acme, query, message):
    client.force_login(acme["olga"])
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()


def test_another_organizations_key_is_refused(client, acme):
    from_globex = acme_key_of_bob(acme)
    client.force_login(acme["olga"])
    assert client.get(f"{URL}?key={from_globex.pk}").status_code == 400


def acme_key_of_bob(acme):
    return api_key_create(user=acme["bob"], name="bob")[0]


def test_dashboard_links_the_organizations_a_user_manages(client, acme):
    client.force_login(acme["olga"])
    assert '<a href="/dashboard/org/acme/">Acme (all members)</a>' in client.get("/dashboard/").content.decode()
    client.force_login(acme["mia"])
    assert "/dashboard/org/acme/" not in client.get("/dashboard/").content.decode()


def test_query_count_does_not_grow_with_rows(client, acme, django_assert_max_num_queries):
    for i in range(30):
        record(acme["mia"], acme["org"], agent=f"agent-{i}", run_id=f"run-{i}", latency_ms=i)
    client.force_login(acme["olga"])
    # session, user, organization, role, totals x2, latency (count + 2), daily, projects, keys,
    # five breakdowns, top runs, filter choices (members, projects, keys), managed organizations
    with django_assert_max_num_queries(24):
        response = client.get(f"{URL}?user=mia&project=web&key={acme['key'].pk}&tag=prod")
    assert response.status_code == 200
