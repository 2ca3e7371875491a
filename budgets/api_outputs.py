"""The budget API's output shapes: a budget with its live figures and forecast, a reservation."""

from __future__ import annotations

from rest_framework import serializers

from budgets import selectors
from budgets.models import Budget, Reservation
from core.api.fields import IsoDateTimeField, MoneyField


class BudgetForecastBasisSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetForecastBasis"

    start = IsoDateTimeField(help_text="The burn rate is measured from here (last 24 h, within the window)...")
    end = IsoDateTimeField(help_text="... to now.")
    hours = serializers.DecimalField(max_digits=None, decimal_places=2, help_text="At least 1.")
    spent_usd = MoneyField()
    spent_tokens = serializers.IntegerField()
    usd_per_hour = MoneyField()
    tokens_per_hour = serializers.IntegerField()


class BudgetForecastSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetForecast"

    projected_usd = MoneyField(allow_null=True, help_text="At the window's end; null for a lifetime budget.")
    projected_tokens = serializers.IntegerField(allow_null=True, help_text="At the window's end.")
    runs_out_at = IsoDateTimeField(
        allow_null=True, help_text="When the tighter limit is reached at this rate, if before the window ends; "
        "now when already used up; null otherwise.",
    )
    window_end = IsoDateTimeField(allow_null=True)
    basis = BudgetForecastBasisSerializer()


class BudgetOutputSerializer(serializers.Serializer):
    """A budget with its live figures in the current window."""

    class Meta:
        ref_name = "Budget"

    id = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField(help_text="What the budget limits, in words: its name, else e.g. \"Tag ads\".")
    scope = serializers.ChoiceField(choices=Budget.SCOPES)
    period = serializers.ChoiceField(choices=Budget.PERIODS)
    agent = serializers.CharField()
    run_id = serializers.CharField()
    limit_tokens = serializers.IntegerField(allow_null=True)
    limit_usd = MoneyField(allow_null=True)
    spent_tokens = serializers.IntegerField()
    spent_usd = MoneyField()
    reserved_tokens = serializers.IntegerField(help_text="Held by active reservations.")
    reserved_usd = MoneyField()
    remaining_tokens = serializers.IntegerField(allow_null=True, help_text="Negative when usage overran.")
    remaining_usd = MoneyField(allow_null=True, help_text="Negative when usage overran.")
    percent_used = serializers.DecimalField(
        max_digits=None, decimal_places=2, help_text="Of the tighter limit, e.g. \"80.00\"."
    )
    enforcement = serializers.ChoiceField(choices=Budget.ENFORCEMENTS)
    window_start = IsoDateTimeField()
    window_end = IsoDateTimeField(allow_null=True, help_text="Null for a lifetime budget.")
    status = serializers.ChoiceField(choices=selectors.BUDGET_STATUSES)


class BudgetForecastOutputSerializer(BudgetOutputSerializer):
    """A budget with its live figures and its forecast (GET/POST/PATCH /budgets; a check leaves it out)."""

    class Meta:
        ref_name = "BudgetWithForecast"

    forecast = BudgetForecastSerializer(help_text="Spend projected at the recent burn rate (docs/budgets.md).")


class ReservationOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Reservation"

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Reservation.STATUSES)
    agent = serializers.CharField()
    model = serializers.CharField()
    run_id = serializers.CharField()
    tokens = serializers.IntegerField(help_text="Held: estimated input plus output.")
    cost_usd = MoneyField(help_text="Held.")
    expires_at = IsoDateTimeField()
    settled_at = IsoDateTimeField(allow_null=True)
    actual_tokens = serializers.IntegerField(allow_null=True)
    actual_usd = MoneyField(allow_null=True)
    record_id = serializers.UUIDField(allow_null=True, help_text="The usage record that settled it.")
