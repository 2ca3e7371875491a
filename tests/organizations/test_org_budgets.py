"""Organization, project, key and tag budgets: every applicable one enforced, at the check and at commit."""

from __future__ import annotations

import pytest

from analytics.models import Alert
from budgets.models import Budget, BudgetWindow
from budgets.services import budget_create
from tests.organizations.conftest import client_of, record


def check(client, **extra):
    body = {"agent": "triage", "model": "gpt-4o", "estimated_input_tokens": 100, "max_output_tokens": 50, **extra}
    return client.post("/api/v1/budgets/check", body, format="json")


def spent(budget: Budget) -> int:
    return sum(BudgetWindow.objects.filter(budget=budget).values_list("spent_tokens", flat=True))


def test_every_applicable_budget_is_charged_at_commit(world):
    org = budget_create(by=None, scope="organization", organization=world.acme, limit_tokens=10_000)
    project = budget_create(by=None, scope="project", project=world.web, limit_tokens=10_000)
    client = client_of(world.dave, project=world.web)
    key = budget_create(by=None, scope="key", api_key=client.key, limit_tokens=10_000)
    tag = budget_create(by=None, scope="tag", organization=world.acme, tag="ads", limit_tokens=10_000)
    other_tag = budget_create(by=None, scope="tag", organization=world.acme, tag="eu", limit_tokens=10_000)
    globex = budget_create(by=None, scope="organization", organization=world.globex, limit_tokens=10_000)
    assert client.post("/api/v1/usage", record(tags=["ads"]), format="json").status_code == 201
    assert [spent(b) for b in (org, project, key, tag, other_tag, globex)] == [120, 120, 120, 120, 0, 0]
    assert project.organization == world.acme and key.organization == world.acme


def test_a_denial_names_each_blocking_budget_by_label_and_scope(world):
    budget_create(by=None, scope="organization", organization=world.acme, limit_tokens=100, name="Acme monthly")
    budget_create(by=None, scope="tag", organization=world.acme, tag="ads", limit_tokens=100)
    budget_create(by=None, scope="organization", organization=world.globex, limit_tokens=100)
    body = check(client_of(world.dave), tags=["ads"]).json()
    assert body["allowed"] is False
    assert [(d["label"], d["scope"], d["name"]) for d in body["denials"]] == [
        ("Acme monthly", "organization", "Acme monthly"), ("Tag ads", "tag", "")]
    ids = body["denied_by"]
    assert body["message"] == (
        f'Denied: budget {ids[0]} "Acme monthly" (organization, month) has 100 of 100 tokens left; '
        f'budget {ids[1]} "Tag ads" (tag, month) has 100 of 100 tokens left.')
    # Bob's organization has a budget of its own, which Acme's calls never meet, nor he Acme's.
    assert check(client_of(world.bob), max_output_tokens=1, estimated_input_tokens=10).json()["allowed"] is True
    untagged = check(client_of(world.dave), estimated_input_tokens=10, max_output_tokens=10).json()
    assert (untagged["allowed"], [b["label"] for b in untagged["budgets"]]) == (True, ["Acme monthly"])


def test_a_project_budget_blocks_only_its_projects_keys(world):
    budget_create(by=None, scope="project", project=world.web, limit_tokens=10, name="Web cap")
    assert check(client_of(world.dave, project=world.web)).json()["denials"][0]["label"] == "Web cap"
    assert check(client_of(world.dave)).json()["allowed"] is True


def test_managers_create_their_organizations_budgets_others_may_not(world):
    body = {"scope": "organization", "organization": world.acme.pk, "limit_usd": "25", "name": "Acme"}
    response = client_of(world.carol).post("/api/v1/budgets", body, format="json")
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("name", "label", "scope", "limit_usd")} == {
        "name": "Acme", "label": "Acme", "scope": "organization", "limit_usd": "25"}
    assert client_of(world.dave).post("/api/v1/budgets", body, format="json").status_code == 403
    assert client_of(world.bob).post("/api/v1/budgets", body, format="json").status_code == 403
    tag = {"scope": "tag", "organization": world.acme.pk, "tag": "ads", "limit_tokens": 5}
    assert client_of(world.alice).post("/api/v1/budgets", tag, format="json").json()["label"] == "Tag ads"
    # Members read their organization's budgets; others do not see them.
    assert [b["label"] for b in client_of(world.dave).get("/api/v1/budgets").json()["budgets"]] == ["Acme", "Tag ads"]
    assert client_of(world.bob).get("/api/v1/budgets").json()["budgets"] == []
    budget_id = response.json()["id"]
    assert client_of(world.bob).get(f"/api/v1/budgets/{budget_id}").status_code == 404
    assert client_of(world.dave).patch(f"/api/v1/budgets/{budget_id}", {"limit_usd": "99"},
                                       format="json").status_code == 403
    assert client_of(world.carol).patch(f"/api/v1/budgets/{budget_id}", {"limit_usd": "30"},
                                        format="json").json()["limit_usd"] == "30"


@pytest.mark.parametrize("body, fields", [
    ({"scope": "organization", "limit_tokens": 5}, {"organization": ["Required for scope organization."]}),
    ({"scope": "tag", "organization": 1, "limit_tokens": 5}, {"tag": ["Required for scope tag."]}),
    ({"scope": "project", "project": 999999, "limit_tokens": 5}, {"project": ["No such project."]}),
    ({"scope": "key", "limit_tokens": 5}, {"api_key": ["Required for scope key."]}),
])
def test_bad_scoped_budgets_are_a_400_naming_the_field(world, staff_user, body, fields):
    body = {**body, "organization": world.acme.pk} if "organization" in body else body
    response = client_of(staff_user).post("/api/v1/budgets", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields


def test_an_organizations_budget_alert_names_it_and_reaches_its_members_only(world, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    events = []
    monkeypatch.setattr("core.events.publish", lambda user_id, kind, data: events.append((user_id, kind, data)))
    budget = budget_create(by=None, scope="tag", organization=world.acme, tag="ads", limit_tokens=100,
                           name="Ads cap", thresholds=[100])
    with django_capture_on_commit_callbacks(execute=True):
        client_of(world.dave).post("/api/v1/usage", record(tags=["ads"]), format="json")  # 120 of 100 tokens
    alert = Alert.objects.get(budget_id=budget.pk)
    assert alert.message.startswith(f'Budget {budget.pk} "Ads cap" (tag, month) exhausted: 120.00% of its limit. '
                                    "Forecast at ")
    assert alert.message.endswith("by the window's end; already used up.")
    # The forecast reads the tag's own spend (the tag budget's scope), not the user's.
    assert alert.figures["forecast"]["runs_out_at"] is not None
    alerts = [(uid, data["label"], data["scope"]) for uid, kind, data in events if kind == "budget_alert"]
    assert sorted(alerts) == sorted((u.pk, "Ads cap", "tag") for u in (world.alice, world.carol, world.dave))
