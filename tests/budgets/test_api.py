"""The budget API: who may change budgets, what each user sees, checks and reservations over HTTP."""

from decimal import Decimal

import pytest

from budgets.models import Budget, BudgetChange, Reservation
from tokens.tokenizer import count_messages, count_text

ITEM_KEYS = [
    "id", "name", "label", "scope", "period", "agent", "run_id", "limit_tokens", "limit_usd", "spent_tokens",
    "spent_usd",
    "reserved_tokens", "reserved_usd", "remaining_tokens", "remaining_usd", "percent_used", "enforcement",
    "window_start", "window_end", "status", "forecast",
]


def check_body(**extra):
    return {"agent": "triage", "model": "gpt-4o", "estimated_input_tokens": 1000, "max_output_tokens": 500,
            **extra}


@pytest.fixture
def staff_api(staff_user, make_client, catalog):
    return make_client(staff_user)


@pytest.mark.django_db
def test_customers_cannot_create_or_change_budgets(api, user, make_budget):
    budget = make_budget(user=user, limit_tokens=1000)

    created = api.post("/api/v1/budgets", {"scope": "user", "user": "alice", "limit_tokens": 10**9},
                       format="json")
    changed = api.patch(f"/api/v1/budgets/{budget.pk}", {"limit_tokens": 10**9}, format="json")

    assert (created.status_code, created.json()["error"]["code"]) == (403, "permission_denied")
    assert (changed.status_code, changed.json()["error"]["code"]) == (403, "permission_denied")
    budget.refresh_from_db()
    assert budget.limit_tokens == 1000
    assert Budget.objects.count() == 1


@pytest.mark.django_db
def test_staff_create_a_budget_and_changes_are_audited(staff_api, staff_user, user):
    response = staff_api.post("/api/v1/budgets", {
        "scope": "user_agent", "user": "alice", "agent": "data", "period": "week", "limit_tokens": 5000,
        "limit_usd": "2.50", "enforcement": "soft", "thresholds": [75, 100], "timezone": "Europe/Paris",
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert list(body) == ITEM_KEYS
    assert (body["scope"], body["agent"], body["period"], body["limit_tokens"], body["limit_usd"]) == (
        "user_agent", "data", "week", 5000, "2.5"
    )
    assert (body["spent_tokens"], body["remaining_tokens"], body["percent_used"], body["status"]) == (
        0, 5000, "0.00", "ok"
    )
    budget = Budget.objects.get(pk=body["id"])
    assert (budget.user, budget.thresholds, budget.timezone) == (user, [75, 100], "Europe/Paris")

    patched = staff_api.patch(f"/api/v1/budgets/{budget.pk}", {"limit_tokens": 8000, "enforcement": "hard"},
                              format="json")

    assert patched.status_code == 200
    assert (patched.json()["limit_tokens"], patched.json()["enforcement"]) == (8000, "hard")
    changes = {c.field: (c.old_value, c.new_value, c.changed_by) for c in BudgetChange.objects.filter(budget=budget)}
    assert changes["limit_tokens"] == ("5000", "8000", staff_user)
    assert changes["enforcement"] == ("soft", "hard", staff_user)


@pytest.mark.django_db
def test_service_keys_may_create_budgets(service_api, user):
    response = service_api.post("/api/v1/budgets", {"user": "alice", "period": "day", "limit_tokens": 100},
                                format="json")
    assert response.status_code == 201
    assert Budget.objects.get().user == user


@pytest.mark.django_db
def test_invalid_budgets_are_rejected_with_field_errors(staff_api, user):
    no_limit = staff_api.post("/api/v1/budgets", {"user": "alice"}, format="json")
    bad_tz = staff_api.post("/api/v1/budgets", {"user": "alice", "limit_tokens": 1, "timezone": "Mars/Base"},
                            format="json")
    no_agent = staff_api.post("/api/v1/budgets", {"scope": "user_agent", "user": "alice", "limit_tokens": 1},
                              format="json")
    assert no_limit.json()["error"]["fields"] == {"limit_tokens": ["Set limit_tokens, limit_usd or both."]}
    assert bad_tz.json()["error"]["fields"] == {"timezone": ["Unknown timezone 'Mars/Base'."]}
    assert no_agent.json()["error"]["fields"] == {"agent": ["Required for scope user_agent."]}
    assert {no_limit.status_code, bad_tz.status_code, no_agent.status_code} == {400}


@pytest.mark.django_db
def test_each_user_lists_only_their_own_budgets_and_global_ones(api, other_api, user, other_user, make_budget):
    mine = make_budget(user=user, limit_tokens=1000)
    theirs = make_budget(user=other_user, limit_tokens=2000)
    shared = make_budget(scope="global", limit_usd=Decimal("100"))

    alice = api.get("/api/v1/budgets").json()["budgets"]
    bob = other_api.get("/api/v1/budgets").json()["budgets"]

    assert [b["id"] for b in alice] == [mine.pk, shared.pk]
    assert [b["id"] for b in bob] == [theirs.pk, shared.pk]
    assert list(alice[0]) == ITEM_KEYS
    assert api.get(f"/api/v1/budgets/{theirs.pk}").status_code == 404
    assert api.get(f"/api/v1/budgets/{mine.pk}").json()["limit_tokens"] == 1000


@pytest.mark.django_db
def test_a_customer_cannot_list_another_users_budgets(api, other_user, make_budget):
    make_budget(user=other_user, limit_tokens=2000)
    response = api.get("/api/v1/budgets?user=bob")
    assert response.status_code == 403


@pytest.mark.django_db
def test_check_with_reservation_then_commit_by_posting_usage(api, user, make_budget):
    budget = make_budget(user=user, period="day", limit_tokens=10_000)

    check = api.post("/api/v1/budgets/check", check_body(reserve=True), format="json").json()
    usage = api.post("/api/v1/usage", {"request_id": "q1", "model": "gpt-4o", "agent": "triage",
                                       "prompt_tokens": 1000, "completion_tokens": 200,
                                       "reservation_id": check["reservation"]["id"]}, format="json")
    listed = api.get("/api/v1/budgets").json()["budgets"][0]

    assert (check["allowed"], check["reason"]) == (True, "within_budget")
    assert check["estimate"] == {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500,
                                 "cost_usd": "0.0075"}
    assert check["budgets"][0]["id"] == budget.pk
    assert (check["budgets"][0]["reserved_tokens"], check["budgets"][0]["remaining_tokens"]) == (1500, 8500)
    assert usage.status_code == 201
    assert (listed["spent_tokens"], listed["reserved_tokens"], listed["remaining_tokens"]) == (1200, 0, 8800)
    assert listed["spent_usd"] == "0.0045"


@pytest.mark.django_db
def test_a_denial_is_200_with_allowed_false(api, user, make_budget):
    make_budget(user=user, limit_tokens=100)
    response = api.post("/api/v1/budgets/check", check_body(reserve=True), format="json")
    body = response.json()
    assert response.status_code == 200
    assert (body["allowed"], body["reason"], body["reservation"]) == (False, "budget_exceeded", None)
    assert Reservation.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("enforcement", "opening"), [("hard", "Denied: "), ("soft", "Allowed past a soft limit: ")])
def test_an_overrun_budget_says_so_in_cents_and_never_a_negative_amount_left(
    api, user, make_budget, ingest, enforcement, opening
):
    budget = make_budget(user=user, limit_usd=Decimal("12"), enforcement=enforcement)
    # gpt-4o: 1e9 * $2.50/1M + 287,358,998 * $10/1M = $5,373.58998 spent of $12
    ingest(user, prompt=1_000_000_000, completion=287_358_998)
    body = api.post("/api/v1/budgets/check", check_body(), format="json").json()
    assert body["message"] == (
        f"{opening}budget {budget.pk} \"All your usage\" (user, month) has $0.00 of $12.00 left (over by $5,361.59)."
    )
    # Only the message is rounded: the figures stay exact.
    (item,) = body["budgets"]
    assert (item["limit_usd"], item["spent_usd"], item["remaining_usd"]) == ("12", "5373.58998", "-5361.58998")


@pytest.mark.django_db
def test_denial_text_for_tokens_and_small_amounts(api, user, make_budget, ingest):
    budget = make_budget(user=user, limit_tokens=1000, limit_usd=Decimal("1234.5"))
    ingest(user, prompt=1200, completion=1)  # $0.00301 spent
    body = api.post("/api/v1/budgets/check", check_body(), format="json").json()
    assert body["message"] == (
        f"Denied: budget {budget.pk} \"All your usage\" (user, month) has 0 of 1000 tokens left (over by 201) "
        "and $1,234.50 of $1,234.50 left."
    )
    assert body["budgets"][0]["remaining_tokens"] == -201
    ingest(user, prompt=0, completion=123_449_700)  # $1,234.50001 spent in all: over by $0.00001
    body = api.post("/api/v1/budgets/check", check_body(), format="json").json()
    # Under a dollar, money shows four decimals (docs/analytics.md, "Money"); an overrun rounds up.
    assert body["message"].endswith("and $0.00 of $1,234.50 left (over by $0.0001).")


@pytest.mark.django_db
def test_prompt_and_messages_are_counted_exactly(api, user):
    prompt = "Summarise the quarterly token spend of every agent, by model."
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]

    by_prompt = api.post("/api/v1/budgets/check", {"agent": "a", "model": "gpt-4o", "prompt": prompt,
                                                   "max_output_tokens": 10}, format="json").json()
    by_messages = api.post("/api/v1/budgets/check", {"agent": "a", "model": "gpt-4o", "messages": messages,
                                                     "max_output_tokens": 10}, format="json").json()

    assert by_prompt["estimate"]["input_tokens"] == count_text(prompt, "gpt-4o").tokens
    assert by_messages["estimate"]["input_tokens"] == count_messages(messages, "gpt-4o").tokens
    assert by_messages["estimate"]["input_tokens"] > by_prompt["estimate"]["input_tokens"]


@pytest.mark.django_db
def test_check_needs_exactly_one_input_size(api):
    response = api.post("/api/v1/budgets/check", {"agent": "a", "model": "gpt-4o"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["estimated_input_tokens"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ('{"agent": "a", "model": "gpt-4o", "estimated_input_tokens": 1e30}',
         {"estimated_input_tokens": ["At most 1,000,000,000 tokens."]}),
        ('{"agent": "a", "model": "gpt-4o", "estimated_input_tokens": 1000000000000000000000000000000}',
         {"estimated_input_tokens": ["At most 1,000,000,000 tokens."]}),
        ('{"agent": "a", "model": "gpt-4o", "estimated_input_tokens": 9223372036854775808, "reserve": true}',
         {"estimated_input_tokens": ["At most 1,000,000,000 tokens."]}),
        ('{"agent": "a", "model": "gpt-4o", "estimated_input_tokens": 12.5}',
         {"estimated_input_tokens": ["A valid integer is required."]}),
        ('{"agent": "a", "model": "gpt-4o", "estimated_input_tokens": 10, "max_output_tokens": 1e12}',
         {"max_output_tokens": ["At most 1,000,000,000 tokens."]}),
    ],
)
def test_check_rejects_token_counts_past_the_limit(api, user, make_budget, raw, errors):
    make_budget(user=user, limit_tokens=10_000)
    response = api.post("/api/v1/budgets/check", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": f"Invalid input: {', '.join(errors)}.", "fields": errors,
    }
    assert Reservation.objects.count() == 0


@pytest.mark.django_db
def test_check_at_the_token_limit_is_priced(api, user, make_budget):
    make_budget(user=user, limit_tokens=10_000, strict=True)
    body = api.post("/api/v1/budgets/check", check_body(estimated_input_tokens=10**9, max_output_tokens=10**9),
                    format="json").json()
    # Strict holds the full cap, gpt-4o's 16,384 output tokens: 1e9 * $2.50/1M + 16,384 * $10/1M
    assert (body["allowed"], body["estimate"]["input_tokens"], body["estimate"]["cost_usd"]) == (
        False, 10**9, "2500.16384"
    )


@pytest.mark.django_db
def test_a_budget_limit_past_the_column_range_is_a_400(staff_api, user):
    response = staff_api.post("/api/v1/budgets", {"user": "alice", "limit_tokens": 2**63}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "limit_tokens": ["Ensure this value is less than or equal to 9223372036854775807."]
    }
    assert Budget.objects.count() == 0


@pytest.mark.django_db
def test_service_key_checks_and_releases_for_a_named_user(service_api, user, make_budget):
    make_budget(user=user, limit_tokens=10_000)
    check = service_api.post("/api/v1/budgets/check", check_body(user="alice", reserve=True), format="json").json()
    reservation = Reservation.objects.get()
    released = service_api.post(f"/api/v1/budgets/reservations/{reservation.pk}/release", {"user": "alice"},
                                format="json")
    assert check["budgets"][0]["reserved_tokens"] == 1500
    assert reservation.user == user
    assert (released.status_code, released.json()["status"]) == (200, "released")


@pytest.mark.django_db
def test_customer_cannot_check_for_another_user(api, other_user):
    response = api.post("/api/v1/budgets/check", check_body(user="bob"), format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_release_commit_and_conflicts_over_http(api, other_api, user, make_budget):
    make_budget(user=user, limit_tokens=10_000)
    first = api.post("/api/v1/budgets/check", check_body(reserve=True), format="json").json()["reservation"]["id"]
    second = api.post("/api/v1/budgets/check", check_body(reserve=True), format="json").json()["reservation"]["id"]

    foreign = other_api.post(f"/api/v1/budgets/reservations/{first}/release")
    released = api.post(f"/api/v1/budgets/reservations/{first}/release")
    released_again = api.post(f"/api/v1/budgets/reservations/{first}/release")
    commit_released = api.post(f"/api/v1/budgets/reservations/{first}/commit")
    committed = api.post(f"/api/v1/budgets/reservations/{second}/commit")
    shown = api.get(f"/api/v1/budgets/reservations/{second}")

    assert foreign.status_code == 404
    assert (released.status_code, released.json()["status"]) == (200, "released")
    assert (released_again.status_code, released_again.json()["status"]) == (200, "released")
    assert (commit_released.status_code, commit_released.json()["error"]["code"]) == (409, "reservation_released")
    assert (committed.status_code, committed.json()["status"]) == (200, "committed")
    assert shown.json()["tokens"] == 1500
    assert api.get("/api/v1/budgets").json()["budgets"][0]["reserved_tokens"] == 0


@pytest.mark.django_db
def test_unknown_reservation_is_404(api):
    response = api.post("/api/v1/budgets/reservations/00000000-0000-7000-8000-000000000000/release")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.django_db
def test_check_query_count_is_bounded(api, user, make_budget, django_assert_max_num_queries):
    make_budget(user=user, limit_tokens=10_000)
    make_budget(user=user, scope="user_agent", agent="triage", limit_tokens=5_000)
    api.post("/api/v1/budgets/check", check_body(reserve=True), format="json")  # warm the catalog
    with django_assert_max_num_queries(12):
        response = api.post("/api/v1/budgets/check", check_body(reserve=True), format="json")
    assert response.json()["allowed"] is True
