"""Budget admin: whatever the budget services refuse comes back as a field error, never a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from budgets.models import Budget, BudgetChange
from budgets.services import budget_create

NO_INLINES = {
    "agent_budgets-TOTAL_FORMS": "0", "agent_budgets-INITIAL_FORMS": "0",
    "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0",
}


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client(raise_request_exception=False)  # a 500 must show as a status, not as the test's exception
    client.force_login(staff_user)
    return client


def add_form(user, **values) -> dict:
    return {
        "scope": "user", "user": user.pk if user else "", "agent": "", "run_id": "", "priority": "1",
        "is_active": "on", "period": "month", "timezone": "", "limit_tokens": "", "limit_usd": "",
        "enforcement": "hard", "thresholds": "50, 80, 90, 100", "webhook_url": "", "webhook_secret": "",
        **NO_INLINES, **values,
    }


def form_errors(response) -> dict:
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"scope": "user_agent", "limit_usd": "5"}, {"agent": ["Required for scope user_agent."]}),
        ({"scope": "run", "limit_tokens": "100"}, {"run_id": ["Required for scope run."]}),
        ({"scope": "global", "limit_tokens": "100"}, {"user": ["A global budget has no user."]}),
        ({"limit_usd": "-1"}, {"limit_usd": ["Must be zero or more."]}),
        ({"limit_tokens": "-1"}, {"limit_tokens": ["Must be zero or more."]}),
        ({"limit_tokens": "-1", "limit_usd": "-0.5"},
         {"limit_tokens": ["Must be zero or more."], "limit_usd": ["Must be zero or more."]}),
        ({}, {"limit_tokens": ["Set limit_tokens, limit_usd or both."]}),
        ({"limit_usd": "five"}, {"limit_usd": ["Enter a number."]}),
        ({"limit_usd": "5", "thresholds": "0"},
         {"thresholds": ["Each threshold is more than 0 and at most 1000 (percent of the limit)."]}),
        ({"limit_usd": "5", "thresholds": "[50]"},  # not JSON: numbers
         {"thresholds": ["Write percentages separated by commas, e.g. 50, 80, 90, 100."]}),
    ],
)
def test_add_form_shows_what_the_services_refuse_as_field_errors(admin_client, user, values, errors):
    response = admin_client.post("/admin/budgets/budget/add/", add_form(user, **values))

    assert response.status_code == 200
    assert form_errors(response) == errors
    html = response.content.decode()
    for messages in errors.values():
        assert f"<li>{messages[0]}</li>" in html
    assert "Constraint" not in html  # never the raw database constraint message
    assert not Budget.objects.exists()


@pytest.mark.django_db
def test_user_and_agent_budget_without_agent_is_a_field_error_then_saves_with_one(admin_client, user):
    form = add_form(user, scope="user_agent", limit_usd="5")

    refused = admin_client.post("/admin/budgets/budget/add/", form)
    saved = admin_client.post("/admin/budgets/budget/add/", {**form, "agent": "data"})

    assert refused.status_code == 200
    assert '<ul class="errorlist" id="id_agent_error"><li>Required for scope user_agent.</li></ul>' in (
        refused.content.decode()
    )
    assert saved.status_code == 302
    budget = Budget.objects.get()
    assert (budget.scope, budget.user, budget.agent, budget.limit_usd) == ("user_agent", user, "data", Decimal(5))


def inline_form(budget: Budget, rows: list[dict], **values) -> dict:
    data = {
        "priority": "1", "is_active": "on", "period": budget.period, "timezone": "", "enforcement": "hard",
        "limit_tokens": str(budget.limit_tokens), "limit_usd": "", "thresholds": "50, 80, 90, 100",
        "webhook_url": "", "webhook_secret": "", **NO_INLINES,
        "agent_budgets-TOTAL_FORMS": str(len(rows)),
        "agent_budgets-INITIAL_FORMS": str(sum(1 for r in rows if "id" in r)), **values,
    }
    for i, row in enumerate(rows):
        row = {"priority": "1", "enforcement": "hard", "is_active": "on", "limit_tokens": "", "limit_usd": "", **row}
        data.update({f"agent_budgets-{i}-{k}": v for k, v in row.items()})
    return data


def inline_errors(response) -> list:
    (formset,) = [f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "agent_budgets"]
    return [*formset.non_form_errors(), *({k: list(v) for k, v in e.items()} for e in formset.errors)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "errors"),
    [
        ({"agent": "", "limit_tokens": "10"}, [{"agent": ["Required for scope user_agent."]}]),
        ({"agent": "data", "limit_usd": "-2"}, [{"limit_usd": ["Must be zero or more."]}]),
        ({"agent": "data"}, [{"limit_tokens": ["Set limit_tokens, limit_usd or both."]}]),
    ],
)
def test_new_per_agent_budget_rows_show_field_errors(admin_client, user, row, errors):
    parent = budget_create(by=None, scope="user", user=user, period="day", limit_tokens=1000)

    response = admin_client.post(f"/admin/budgets/budget/{parent.pk}/change/", inline_form(parent, [row]))

    assert response.status_code == 200
    assert inline_errors(response) == errors
    assert "Constraint" not in response.content.decode()
    assert Budget.objects.count() == 1


@pytest.mark.django_db
def test_per_agent_rows_under_a_global_budget_are_refused(admin_client):
    parent = budget_create(by=None, scope="global", period="day", limit_tokens=1000)

    response = admin_client.post(f"/admin/budgets/budget/{parent.pk}/change/",
                                 inline_form(parent, [{"agent": "data", "limit_tokens": "10"}]))

    assert response.status_code == 200
    assert inline_errors(response) == [
        "Per-agent budgets are allocated from a budget of scope user with a user.", {},
    ]
    assert Budget.objects.count() == 1


@pytest.mark.django_db
def test_an_existing_per_agent_budget_cannot_lose_both_limits(admin_client, user):
    parent = budget_create(by=None, scope="user", user=user, period="day", limit_tokens=1000)
    child = budget_create(by=None, scope="user_agent", user=user, agent="data", parent=parent, period="day",
                          limit_tokens=300)

    response = admin_client.post(f"/admin/budgets/budget/{parent.pk}/change/", inline_form(
        parent, [{"id": str(child.pk), "parent": str(parent.pk), "agent": "data"}]))

    assert response.status_code == 200
    assert inline_errors(response) == [{"limit_tokens": ["Set limit_tokens, limit_usd or both."]}]
    child.refresh_from_db()
    assert child.limit_tokens == 300


@pytest.mark.django_db
def test_scope_and_owner_are_read_only_once_created(admin_client, user, other_user):
    budget = budget_create(by=None, scope="user", user=user, period="day", limit_tokens=1000)

    page = admin_client.get(f"/admin/budgets/budget/{budget.pk}/change/").content.decode()
    response = admin_client.post(f"/admin/budgets/budget/{budget.pk}/change/", inline_form(
        budget, [], limit_tokens="2000", scope="global", user=str(other_user.pk)))

    assert 'name="scope"' not in page and 'name="user"' not in page
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.scope, budget.user, budget.limit_tokens) == ("user", user, 2000)
    assert BudgetChange.objects.filter(budget=budget, field="limit_tokens", new_value="2000").exists()
