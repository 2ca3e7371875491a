"""Reservations never leak: every way a hold can end, and every way a commit can go wrong."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from budgets import services
from budgets.models import Reservation, ReservationHold
from budgets.services import budget_check, reservation_commit, reservation_release, reservations_expire
from budgets.tasks import reservations_expire as task
from core.errors import Conflict, DomainError, NotFound
from netra_site.celery import app
from tests.factories import UsageRecordFactory
from tokens.models import UsageRecord


def reserve(user, *, input_tokens=1000, max_output_tokens=500, agent="triage", now=None, **kw):
    return budget_check(user=user, agent=agent, model="gpt-4o", input_tokens=input_tokens,
                        max_output_tokens=max_output_tokens, reserve=True, now=now, **kw)


def live(user, now=None):
    """(spent_tokens, reserved_tokens) of the user's first budget, as a new check sees them."""
    item = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=0, max_output_tokens=1,
                        now=now).budgets[0]
    return item["spent_tokens"], item["reserved_tokens"]


@pytest.fixture
def budget(user, make_budget, catalog):
    return make_budget(user=user, period="day", limit_tokens=10_000, limit_usd=Decimal("1"))


def test_a_reservation_holds_its_estimate_until_released(user, budget):
    result = reserve(user)

    assert result.allowed is True
    assert (result.input_tokens, result.output_tokens, result.cost_usd) == (1000, 500, Decimal("0.0075"))
    assert result.budgets[0]["reserved_tokens"] == 1500
    assert result.budgets[0]["remaining_tokens"] == 8500
    assert result.budgets[0]["reserved_usd"] == Decimal("0.0075")
    assert live(user) == (0, 1500)

    released = reservation_release(user=user, reservation_id=result.reservation.pk)

    assert released.status == "released"
    assert live(user) == (0, 0)


def test_releasing_twice_answers_released_both_times(user, budget):
    reservation = reserve(user).reservation
    reservation_release(user=user, reservation_id=reservation.pk)
    again = reservation_release(user=user, reservation_id=reservation.pk)
    assert again.status == "released"
    assert live(user) == (0, 0)


def test_usage_with_reservation_id_replaces_the_hold_by_the_actual_cost(user, budget, ingest):
    reservation = reserve(user).reservation

    record = ingest(user, prompt=1000, completion=120, reservation_id=reservation.pk)

    reservation.refresh_from_db()
    assert (reservation.status, reservation.record_id, reservation.actual_tokens) == ("committed", record.pk, 1120)
    assert reservation.actual_usd == Decimal("0.0037")
    assert live(user) == (1120, 0)
    assert not ReservationHold.objects.filter(active=True).exists()


def test_release_after_commit_is_a_conflict(user, budget, ingest):
    reservation = reserve(user).reservation
    ingest(user, prompt=10, completion=10, reservation_id=reservation.pk)
    with pytest.raises(DomainError) as exc:
        reservation_release(user=user, reservation_id=reservation.pk)
    assert (type(exc.value), exc.value.code) == (Conflict, "reservation_committed")


def test_commit_without_usage_closes_the_hold_and_charges_nothing(user, budget):
    reservation = reserve(user).reservation
    committed = reservation_commit(user=user, reservation_id=reservation.pk)
    assert committed.status == "committed"
    assert live(user) == (0, 0)
    assert reservation_commit(user=user, reservation_id=reservation.pk).status == "committed"


def test_an_expired_hold_stops_counting_at_once_before_any_job_runs(user, budget):
    # Mid-day, so the ten minutes never cross into the next day's window (a hold counts in its own window).
    start = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    reserve(user, now=start)

    assert live(user, now=start + timedelta(seconds=599)) == (0, 1500)
    assert live(user, now=start + timedelta(seconds=600)) == (0, 0)
    assert Reservation.objects.get().status == "active"  # the job has not run yet


def test_the_periodic_job_marks_expired_reservations_and_drops_their_holds(user, budget):
    start = timezone.now() - timedelta(minutes=20)
    old = reserve(user, now=start).reservation
    fresh = reserve(user).reservation

    assert reservations_expire() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == ("expired", "active")
    assert list(ReservationHold.objects.filter(active=True).values_list("reservation_id", flat=True)) == [fresh.pk]


def test_the_celery_task_runs_the_expiry(user, budget):

    reserve(user, now=timezone.now() - timedelta(minutes=11))
    assert task.apply().get() == 1
    assert Reservation.objects.get().status == "expired"


def test_release_after_expiry_is_a_conflict_and_marks_it_expired(user, budget):
    reservation = reserve(user, now=timezone.now() - timedelta(minutes=11)).reservation
    with pytest.raises(DomainError) as exc:
        reservation_release(user=user, reservation_id=reservation.pk)
    assert (type(exc.value), exc.value.code) == (Conflict, "reservation_expired")
    reservation.refresh_from_db()
    assert reservation.status == "expired"


def test_commit_after_expiry_still_records_and_charges_the_usage(user, budget, ingest):
    reservation = reserve(user, now=timezone.now() - timedelta(minutes=11)).reservation

    record = ingest(user, prompt=300, completion=200, reservation_id=reservation.pk)

    reservation.refresh_from_db()
    assert UsageRecord.objects.filter(pk=record.pk).exists()
    assert (reservation.status, reservation.record_id) == ("expired", record.pk)
    assert live(user) == (500, 0)


def test_usage_naming_another_users_reservation_is_stored_but_leaves_that_hold_alone(
    user, other_user, budget, make_budget, ingest
):
    make_budget(user=other_user, period="day", limit_tokens=10_000)
    alices = reserve(user).reservation

    ingest(other_user, prompt=100, completion=100, reservation_id=alices.pk)

    alices.refresh_from_db()
    assert (alices.status, alices.record_id) == ("active", None)
    assert live(user) == (0, 1500)
    assert live(other_user) == (200, 0)


def test_usage_naming_an_unknown_reservation_is_stored_and_charged(user, budget, ingest):
    import uuid

    record = ingest(user, prompt=100, completion=50, reservation_id=uuid.uuid4())
    assert UsageRecord.objects.get(pk=record.pk).total_tokens == 150
    assert live(user) == (150, 0)


def test_releasing_another_users_reservation_looks_like_a_missing_one(user, other_user, budget):
    reservation = reserve(user).reservation
    with pytest.raises(DomainError) as exc:
        reservation_release(user=other_user, reservation_id=reservation.pk)
    assert (type(exc.value), exc.value.code) == (NotFound, "not_found")
    assert Reservation.objects.get().status == "active"


@pytest.mark.django_db(transaction=True)
def test_a_reservation_rolled_back_with_its_transaction_leaves_no_hold(user, make_budget, catalog):
    make_budget(user=user, period="day", limit_tokens=10_000)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            reserve(user)
            raise RuntimeError("the caller failed after reserving")
    assert Reservation.objects.count() == 0
    assert ReservationHold.objects.count() == 0
    assert live(user) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_ingestion_neither_charges_nor_settles(user, make_budget, catalog):
    make_budget(user=user, period="day", limit_tokens=10_000)
    reservation = reserve(user).reservation
    record = UsageRecordFactory.build(user=user, agent="triage", reservation_id=reservation.pk)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            record.save()
            services.reservations_settle(records=[record])
            services.budget_windows_charge(records=[record])
            raise RuntimeError("ingestion failed after the budget steps ran")
    reservation.refresh_from_db()
    assert reservation.status == "active"
    assert live(user) == (0, 1500)


def test_hard_budget_denies_what_would_pass_the_limit_and_reserves_nothing(user, make_budget, catalog):
    make_budget(user=user, period="day", limit_tokens=2000)
    first = reserve(user)
    second = reserve(user)
    assert (first.allowed, second.allowed) == (True, False)
    assert second.reason == "budget_exceeded"
    assert second.reservation is None
    assert second.message.startswith("Denied: budget ")
    assert "500 of 2000 tokens left" in second.message
    assert Reservation.objects.count() == 1


def test_soft_budget_allows_past_the_limit_and_says_so(user, make_budget, catalog):
    make_budget(user=user, period="day", limit_tokens=100, enforcement="soft")
    result = reserve(user)
    assert (result.allowed, result.reason) == (True, "soft_limit_exceeded")
    assert result.reservation is not None


def test_usage_past_a_hard_limit_is_recorded_shows_overage_and_denies_further_checks(
    user, make_budget, ingest
):
    make_budget(user=user, period="day", limit_tokens=1000)
    ingest(user, prompt=1200, completion=300)

    check = budget_check(user=user, agent="triage", model="gpt-4o", input_tokens=0, max_output_tokens=1)

    assert UsageRecord.objects.filter(user=user).count() == 1
    item = check.budgets[0]
    assert (item["spent_tokens"], item["remaining_tokens"], item["status"]) == (1500, -500, "exceeded")
    assert item["percent_used"] == Decimal("150.00")
    assert (check.allowed, check.reason) == (False, "budget_exceeded")


def test_no_budget_means_allowed(user, catalog):
    result = reserve(user)
    assert (result.allowed, result.reason, result.budgets) == (True, "no_budget", [])
    assert result.reservation is not None


def test_only_applicable_budgets_are_checked(user, make_budget, catalog):
    agent_budget = make_budget(user=user, scope="user_agent", agent="data", limit_tokens=10)
    run_budget = make_budget(user=user, scope="run", run_id="R1", limit_tokens=10)
    user_budget = make_budget(user=user, limit_tokens=100_000)
    global_budget = make_budget(scope="global", limit_tokens=1_000_000)

    triage = reserve(user, agent="triage")
    data = reserve(user, agent="data")
    in_run = reserve(user, agent="triage", run_id="R1")

    assert [b["id"] for b in triage.budgets] == [user_budget.pk, global_budget.pk]
    assert triage.allowed is True
    assert ([b["id"] for b in data.budgets], data.denied_by) == (
        [agent_budget.pk, user_budget.pk, global_budget.pk], [agent_budget.pk]
    )
    assert in_run.denied_by == [run_budget.pk]


def test_usd_limit_is_enforced_with_catalog_prices(user, make_budget, catalog):
    make_budget(user=user, limit_usd=Decimal("0.01"))
    assert reserve(user).allowed is True  # $0.0075
    denied = reserve(user)
    assert denied.allowed is False
    assert denied.budgets[0]["remaining_usd"] == Decimal("0.0025")


def test_the_expiry_job_is_registered_for_beat_and_the_embedded_beat(settings):

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["budgets-expire-reservations"]
    assert entry["task"] == "budgets.tasks.reservations_expire"
    assert entry["task"] in app.tasks
