"""Thin DRF views for budgets, checks and reservations (v1)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from budgets import selectors, services
from budgets.models import Budget, Reservation
from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, MoneyField, StrictCharField, TokenCountField
from core.api.params import USER_PARAM
from core.errors import InvalidInput, NotFound
from tokens.auth import ReadOrStaffOrServiceKey, acting_user, is_operator


class BudgetOutputSerializer(serializers.Serializer):
    """A budget with its live figures in the current window."""

    class Meta:
        ref_name = "Budget"

    id = serializers.IntegerField()
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


class BudgetWriteSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetWrite"

    scope = serializers.ChoiceField(choices=Budget.SCOPES, default=Budget.SCOPE_USER)
    user = serializers.CharField(required=False, allow_null=True, help_text="Username (not for global).")
    agent = serializers.CharField(required=False, allow_blank=True, max_length=100)
    run_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    period = serializers.ChoiceField(choices=Budget.PERIODS, default=Budget.PERIOD_MONTH)
    # The column's range: a budget limit is a total over a window, not one call's count.
    limit_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**63 - 1)
    limit_usd = serializers.DecimalField(
        required=False, allow_null=True, max_digits=24, decimal_places=12, min_value=0
    )
    enforcement = serializers.ChoiceField(choices=Budget.ENFORCEMENTS, default=Budget.HARD)
    thresholds = serializers.ListField(
        child=serializers.DecimalField(max_digits=7, decimal_places=2, min_value=0), required=False
    )
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    strict = serializers.BooleanField(required=False)
    webhook_url = serializers.URLField(required=False, allow_blank=True)
    webhook_secret = serializers.CharField(required=False, allow_blank=True, max_length=200, write_only=True)
    is_active = serializers.BooleanField(required=False)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    if "thresholds" in values:
        values["thresholds"] = [int(t) if t == int(t) else float(t) for t in values["thresholds"]]
    if "user" in values:
        username = values.pop("user")
        user = None
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise InvalidInput(f"Unknown user {username!r}.", code="unknown_user",
                                   fields={"user": ["Unknown user."]})
        values["user"] = user
    return values


def _get_budget(request: Request, budget_id: int) -> Budget:
    budget = Budget.objects.filter(pk=budget_id).select_related("user").first()
    if budget is None:
        raise NotFound("No such budget.")
    if not is_operator(request) and budget.user_id != request.user.pk and budget.scope != Budget.SCOPE_GLOBAL:
        raise NotFound("No such budget.")
    return budget


class BudgetListApi(APIView):
    """GET the caller's budgets with live figures; POST creates one (staff and service keys)."""

    permission_classes = [ReadOrStaffOrServiceKey]

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BudgetList"

        budgets = BudgetOutputSerializer(many=True, help_text="The caller's budgets and the global ones.")

    @extend_schema(
        operation_id="budgets_list",
        description="The caller's budgets with their live figures.",
        parameters=[OpenApiParameter("user", str, description="Service keys only: this user's budgets.")],
        responses={200: ListOutputSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response(self.ListOutputSerializer({"budgets": selectors.budgets_for_user(user=user)}).data)

    @extend_schema(
        description="Create a budget: staff and service keys.",
        request=BudgetWriteSerializer,
        responses={201: BudgetOutputSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        data = BudgetWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget = services.budget_create(by=request.user, **_clean(dict(data.validated_data)))
        (item,) = selectors.budget_figures(budgets=[budget])
        return Response(BudgetOutputSerializer(item).data, status=status.HTTP_201_CREATED)


class BudgetDetailApi(APIView):
    """GET one budget; PATCH changes limits and settings (staff and service keys, audited)."""

    permission_classes = [ReadOrStaffOrServiceKey]

    @extend_schema(
        operation_id="budgets_retrieve",
        description="One budget with its live figures.",
        responses={200: BudgetOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, budget_id: int) -> Response:
        budget = _get_budget(request, budget_id)
        (item,) = selectors.budget_figures(budgets=[budget])
        return Response(BudgetOutputSerializer(item).data)

    @extend_schema(
        description="Change limits and settings: staff and service keys; every change is audited.",
        request=BudgetWriteSerializer,
        responses={200: BudgetOutputSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, budget_id: int) -> Response:
        budget = _get_budget(request, budget_id)
        data = BudgetWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        fixed = {"scope", "user", "agent", "run_id"} & set(changes)
        if fixed:
            raise InvalidInput("Scope, user, agent and run_id are fixed; create another budget instead.",
                               fields={k: ["Cannot be changed."] for k in fixed})
        budget = services.budget_update(budget=budget, by=request.user, **_clean(changes))
        (item,) = selectors.budget_figures(budgets=[budget])
        return Response(BudgetOutputSerializer(item).data)


class BudgetEstimateSerializer(serializers.Serializer):
    """What the call is expected to cost."""

    class Meta:
        ref_name = "BudgetCheckEstimate"

    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.SerializerMethodField()
    cost_usd = MoneyField(allow_null=True, help_text="Null: the model has no price in the catalog.")

    def get_total_tokens(self, result: services.CheckResult) -> int:
        return result.input_tokens + result.output_tokens


class BudgetHoldSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetCheckReservation"

    id = serializers.UUIDField(help_text="Send it as the usage record's reservation_id, or release it.")
    expires_at = IsoDateTimeField()


class BudgetCheckApi(APIView):
    """May this call go ahead? A denial is 200 with allowed=false."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BudgetCheck"

        agent = serializers.CharField(max_length=100)
        model = serializers.CharField(max_length=200)
        run_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        user = serializers.CharField(required=False, help_text="Service keys only: check for this user.")
        estimated_input_tokens = TokenCountField(required=False)
        prompt = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
        messages = serializers.ListField(child=serializers.DictField(), required=False)
        max_output_tokens = TokenCountField(
            required=False, min_value=1, help_text="Default: the p95 output of this agent and model lately."
        )
        reserve = serializers.BooleanField(required=False, default=False, help_text="Hold the estimate.")

        def validate(self, attrs):
            given = [k for k in ("estimated_input_tokens", "prompt", "messages") if k in attrs]
            if len(given) != 1:
                raise serializers.ValidationError(
                    {"estimated_input_tokens": ["Provide exactly one of estimated_input_tokens, prompt, messages."]}
                )
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BudgetCheckResult"

        allowed = serializers.BooleanField()
        reason = serializers.CharField(help_text="within_budget, soft_limit_exceeded, budget_exceeded or no_budget.")
        message = serializers.CharField()
        denied_by = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the budgets.")
        estimate = BudgetEstimateSerializer(source="*")
        budgets = BudgetOutputSerializer(many=True)
        reservation = BudgetHoldSerializer(allow_null=True, help_text="With reserve=true and allowed.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = acting_user(request, v.get("user"))
        result = services.budget_check(
            user=user, agent=v["agent"], model=v["model"], run_id=v["run_id"],
            input_tokens=v.get("estimated_input_tokens"), prompt=v.get("prompt"), messages=v.get("messages"),
            max_output_tokens=v.get("max_output_tokens"), reserve=v["reserve"],
        )
        return Response(self.OutputSerializer(result).data)


class _ReservationActionApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReservationAction"

        user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")

    def _user(self, request: Request):
        data = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        return acting_user(request, data.validated_data.get("user") or request.query_params.get("user"))


class ReservationReleaseApi(_ReservationActionApi):
    """Give a hold back before it expires. Releasing twice answers the same; 409 once committed/expired."""

    @extend_schema(
        request=_ReservationActionApi.InputSerializer,
        responses={200: ReservationOutputSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, reservation_id) -> Response:
        reservation = services.reservation_release(user=self._user(request), reservation_id=reservation_id)
        return Response(ReservationOutputSerializer(reservation).data)


class ReservationCommitApi(_ReservationActionApi):
    """Close a hold without charging it (a usage record with reservation_id is the normal commit)."""

    @extend_schema(
        request=_ReservationActionApi.InputSerializer,
        responses={200: ReservationOutputSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, reservation_id) -> Response:
        reservation = services.reservation_commit(user=self._user(request), reservation_id=reservation_id)
        return Response(ReservationOutputSerializer(reservation).data)


class ReservationDetailApi(_ReservationActionApi):
    @extend_schema(
        parameters=[USER_PARAM],
        responses={200: ReservationOutputSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request: Request, reservation_id) -> Response:
        reservation = selectors.reservation_for_user(user=self._user(request), reservation_id=reservation_id)
        if reservation is None:
            raise NotFound("No such reservation.")
        return Response(ReservationOutputSerializer(reservation).data)
