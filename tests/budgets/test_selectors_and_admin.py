"""The cross-app selectors, and budget control in Django admin."""

from decimal import Decimal

import pytest
from django.test import Client

from budgets.labels import budget_label
from budgets.models import Budget, BudgetChange, BudgetWindow
from budgets.selectors import budgets_for_user, remaining_for_records
from budgets.services import budget_check, budget_create, budget_update
from ingestion.services import usage_ingest
from tests.factories import UserFactory


@pytest.mark.django_db
def test_budgets_for_user_returns_live_decimal_figures(user, make_budget, ingest):
    budget = make_budget(user=user, period="lifetime", limit_tokens=1000, limit_usd=Decimal("0.01"))
    ingest(user, prompt=200, completion=50)  # 250 tokens, $0.001
    # The output estimate is the p95 of recent calls (50), below the cap of 100.
    budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=100, max_output_tokens=100, reserve=True)

    (item,) = budgets_for_user(user=user)

    assert item == {
        "id": budget.pk, "scope": "user", "period": "lifetime", "agent": "", "run_id": "",
        "limit_tokens": 1000, "limit_usd": Decimal("0.01"), "spent_tokens": 250, "spent_usd": Decimal("0.001"),
        "reserved_tokens": 150, "reserved_usd": Decimal("0.00075"), "remaining_tokens": 600,
        "remaining_usd": Decimal("0.00825"), "percent_used": Decimal("25.00"), "enforcement": "hard",
        "window_start": item["window_start"], "window_end": None, "status": "ok",
        "name": "", "label": "All your usage",
    }
    assert item["window_start"].year == 1970


@pytest.mark.django_db
def test_remaining_for_records_gives_the_tightest_budget_in_few_queries(
    user, other_user, make_budget, ingest, django_assert_max_num_queries
):
    make_budget(user=user, limit_tokens=10_000, limit_usd=Decimal("5"))
    make_budget(user=user, scope="user_agent", agent="data", limit_tokens=1_000)
    triage = ingest(user, prompt=100, completion=0, agent="triage")
    data = ingest(user, prompt=300, completion=0, agent="data")
    unbudgeted = ingest(other_user, prompt=100, completion=0)

    with django_assert_max_num_queries(3):
        remaining = remaining_for_records(records=[triage, data, unbudgeted])

    assert remaining == {
        triage.pk: {"tokens_remaining": 9_600, "usd_remaining": Decimal("4.999")},
        data.pk: {"tokens_remaining": 700, "usd_remaining": Decimal("4.999")},
    }


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_admin_list_shows_progress_percent_and_status_and_filters(admin_client, user, other_user, make_budget,
                                                                  ingest):
    hot = make_budget(user=user, period="day", limit_tokens=1000)
    make_budget(user=other_user, period="day", limit_tokens=1000)
    ingest(user, prompt=850, completion=0)

    page = admin_client.get("/admin/budgets/budget/").content.decode()
    warning = admin_client.get("/admin/budgets/budget/?status=warning").content.decode()

    assert "850 / 1,000 tok" in page
    assert "85.00%" in page
    assert "width:85.0%" in page
    assert f"/admin/budgets/budget/{hot.pk}/change/" in warning
    assert f"/admin/budgets/budget/{hot.pk + 1}/change/" not in warning


@pytest.mark.django_db
def test_admin_edit_is_audited_and_agent_budgets_appear_inline(admin_client, staff_user, user, make_budget):
    budget = make_budget(user=user, period="day", limit_tokens=1000)
    make_budget(user=user, scope="user_agent", agent="data", parent=budget, limit_tokens=300)
    page = admin_client.get(f"/admin/budgets/budget/{budget.pk}/change/").content.decode()
    assert "per-agent budgets" in page.lower()
    assert 'value="data"' in page


    budget_update(budget=budget, by=staff_user, limit_tokens=2000)
    page = admin_client.get(f"/admin/budgets/budget/{budget.pk}/change/").content.decode()
    assert "audit history of limit changes" in page.lower()
    assert BudgetChange.objects.filter(budget=budget, field="limit_tokens", old_value="1000",
                                       new_value="2000", changed_by=staff_user).exists()


@pytest.mark.django_db
def test_admin_actions_raise_switch_and_reset_are_audited(admin_client, user, make_budget, ingest):
    budget = make_budget(user=user, period="day", limit_tokens=1000, limit_usd=Decimal("2"))
    ingest(user, prompt=500, completion=0)
    url = "/admin/budgets/budget/"

    form = admin_client.post(url, {"action": "raise_limit", "_selected_action": [budget.pk]})
    admin_client.post(url, {"action": "raise_limit", "_selected_action": [budget.pk], "apply": "1",
                            "percent": "25"})
    admin_client.post(url, {"action": "toggle_enforcement", "_selected_action": [budget.pk]})
    admin_client.post(url, {"action": "reset_window", "_selected_action": [budget.pk]})

    assert "Raise budget limits" in form.content.decode()
    budget.refresh_from_db()
    assert (budget.limit_tokens, budget.limit_usd, budget.enforcement) == (1250, Decimal("2.5"), "soft")
    assert BudgetWindow.objects.get(budget=budget).spent_tokens == 0
    fields = sorted(BudgetChange.objects.filter(budget=budget).exclude(field="created")
                    .values_list("field", "old_value", "new_value"))
    assert fields == [
        ("enforcement", "hard", "soft"), ("limit_tokens", "1000", "1250"), ("limit_usd", "2", "2.5"),
        ("window_reset", "tokens=500 usd=0.00125", "tokens=0 usd=0"),
    ]


@pytest.mark.django_db
def test_admin_allocate_action_splits_by_priority_and_reports_errors(admin_client, user, make_budget):
    budget = make_budget(user=user, period="day", limit_tokens=8000)
    url = "/admin/budgets/budget/"
    priorities = "triage=500\ndata=3000\noptimization=2000\naction=1000\nreporting=1500"

    too_small = admin_client.post(url, {"action": "allocate_agents", "_selected_action": [budget.pk],
                                        "apply": "1", "total": "1000", "minimum": "500",
                                        "priorities": priorities})
    admin_client.post(url, {"action": "allocate_agents", "_selected_action": [budget.pk], "apply": "1",
                            "total": "8000", "minimum": "500", "priorities": priorities})

    assert "cannot give 5 agents at least 500 each" in too_small.content.decode()
    assert dict(Budget.objects.filter(parent=budget).values_list("agent", "limit_tokens")) == {
        "triage": 500, "data": 3000, "optimization": 2000, "action": 1000, "reporting": 1500,
    }


@pytest.mark.django_db
def test_admin_add_budget_goes_through_the_service(admin_client, user):
    response = admin_client.post("/admin/budgets/budget/add/", {
        "scope": "user", "user": user.pk, "agent": "", "run_id": "", "priority": "1", "is_active": "on",
        "period": "week", "timezone": "", "limit_tokens": "700", "limit_usd": "", "enforcement": "hard",
        "thresholds": "50, 100", "webhook_url": "", "webhook_secret": "",
        "agent_budgets-TOTAL_FORMS": "0", "agent_budgets-INITIAL_FORMS": "0",
        "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    budget = Budget.objects.get()
    assert (budget.limit_tokens, budget.period, budget.thresholds) == (700, "week", [50, 100])
    assert BudgetChange.objects.get(budget=budget).field == "created"


@pytest.mark.django_db
def test_admin_rejects_an_unknown_timezone_with_a_form_error(admin_client, user):
    response = admin_client.post("/admin/budgets/budget/add/", {
        "scope": "user", "user": user.pk, "priority": "1", "is_active": "on", "period": "day",
        "timezone": "Mars/Base", "limit_tokens": "700", "enforcement": "hard", "thresholds": "50",
        "agent_budgets-TOTAL_FORMS": "0", "agent_budgets-INITIAL_FORMS": "0",
        "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "Unknown timezone" in response.content.decode()
    assert not Budget.objects.exists()


def test_a_new_budget_counts_the_current_windows_spend_already_in_the_ledger(db, catalog):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone


    carol = UserFactory(username="carol")
    now = timezone.now()
    usage_ingest(user=carol, api_key=None, payloads=[
        # gpt-4: 1000 * $30/1M = $0.03 each
        {"request_id": "today", "model": "gpt-4", "agent": "triage", "prompt_tokens": 1000, "completion_tokens": 0,
         "occurred_at": now.isoformat()},
        {"request_id": "other-agent", "model": "gpt-4", "agent": "data", "prompt_tokens": 1000,
         "completion_tokens": 0, "occurred_at": now.isoformat()},
        {"request_id": "long-ago", "model": "gpt-4", "agent": "triage", "prompt_tokens": 1000,
         "completion_tokens": 0, "occurred_at": (now - timedelta(days=40)).isoformat()},
    ])
    budget_create(by=None, scope="user_agent", user=carol, agent="triage", period="day", limit_usd=Decimal("1"))
    budget_create(by=None, scope="user", user=carol, period="lifetime", limit_tokens=10_000)
    figures = {(b["scope"], b["period"]): (b["spent_tokens"], b["spent_usd"]) for b in budgets_for_user(user=carol)}
    assert figures[("user_agent", "day")] == (1000, Decimal("0.03"))
    assert figures[("user", "lifetime")] == (3000, Decimal("0.09"))


@pytest.mark.parametrize(
    ("item", "label"),
    [
        ({"scope": "user", "agent": "", "run_id": ""}, "All your usage"),
        ({"scope": "user_agent", "agent": "data", "run_id": ""}, "Agent data"),
        ({"scope": "run", "agent": "", "run_id": "nightly-7"}, "Run nightly-7"),
        ({"scope": "global", "agent": "", "run_id": ""}, "Everyone (global)"),
    ],
)
def test_budget_labels_are_the_words_the_dashboard_and_live_page_show(item, label):

    assert budget_label(item) == label
