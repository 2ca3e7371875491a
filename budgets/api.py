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
from core.api.fields import StrictCharField, TokenCountField
from core.errors import InvalidInput, NotFound
from core.money import money_str
from tokens.auth import ReadOrStaffOrServiceKey, acting_user, is_operator


def budget_out(item: dict[str, Any]) -> dict[str, Any]:
    """A figures dict (selectors.figures) as JSON: decimals as strings, datetimes ISO 8601."""
    out = dict(item)
    for name in ("limit_usd", "spent_usd", "reserved_usd", "remaining_usd"):
        out[name] = money_str(out[name])
    out["percent_used"] = f"{out['percent_used']:.2f}"
    out["window_start"] = out["window_start"].isoformat()
    out["window_end"] = out["window_end"].isoformat() if out["window_end"] else None
    return out


def reservation_out(reservation: Reservation) -> dict[str, Any]:
    return {
        "id": str(reservation.pk),
        "status": reservation.status,
        "agent": reservation.agent,
        "model": reservation.model,
        "run_id": reservation.run_id,
        "tokens": reservation.tokens,
        "cost_usd": money_str(reservation.cost_usd),
        "expires_at": reservation.expires_at.isoformat(),
        "settled_at": reservation.settled_at.isoformat() if reservation.settled_at else None,
        "actual_tokens": reservation.actual_tokens,
        "actual_usd": money_str(reservation.actual_usd),
        "record_id": str(reservation.record_id) if reservation.record_id else None,
    }


class BudgetWriteSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=[c for c, _ in Budget.SCOPES], default=Budget.SCOPE_USER)
    user = serializers.CharField(required=False, allow_null=True, help_text="Username (not for global).")
    agent = serializers.CharField(required=False, allow_blank=True, max_length=100)
    run_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    period = serializers.ChoiceField(choices=[c for c, _ in Budget.PERIODS], default=Budget.PERIOD_MONTH)
    # The column's range: a budget limit is a total over a window, not one call's count.
    limit_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**63 - 1)
    limit_usd = serializers.DecimalField(
        required=False, allow_null=True, max_digits=24, decimal_places=12, min_value=0
    )
    enforcement = serializers.ChoiceField(choices=[Budget.HARD, Budget.SOFT], default=Budget.HARD)
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

    @extend_schema(operation_id="budgets_list", parameters=[OpenApiParameter("user", str, required=False)],
                   responses=dict)
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response({"budgets": [budget_out(i) for i in selectors.budgets_for_user(user=user)]})

    @extend_schema(request=BudgetWriteSerializer, responses={201: dict, 403: dict})
    def post(self, request: Request) -> Response:
        data = BudgetWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget = services.budget_create(by=request.user, **_clean(dict(data.validated_data)))
        (item,) = selectors.budget_figures(budgets=[budget])
        return Response(budget_out(item), status=status.HTTP_201_CREATED)


class BudgetDetailApi(APIView):
    """GET one budget; PATCH changes limits and settings (staff and service keys, audited)."""

    permission_classes = [ReadOrStaffOrServiceKey]

    @extend_schema(operation_id="budgets_retrieve", responses=dict)
    def get(self, request: Request, budget_id: int) -> Response:
        budget = _get_budget(request, budget_id)
        (item,) = selectors.budget_figures(budgets=[budget])
        return Response(budget_out(item))

    @extend_schema(request=BudgetWriteSerializer, responses={200: dict, 403: dict})
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
        return Response(budget_out(item))


class BudgetCheckInputSerializer(serializers.Serializer):
    agent = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=200)
    run_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    user = serializers.CharField(required=False, help_text="Service keys only: check for this user.")
    estimated_input_tokens = TokenCountField(required=False)
    prompt = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    messages = serializers.ListField(child=serializers.DictField(), required=False)
    max_output_tokens = TokenCountField(required=False, min_value=1)
    reserve = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        given = [k for k in ("estimated_input_tokens", "prompt", "messages") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"estimated_input_tokens": ["Provide exactly one of estimated_input_tokens, prompt, messages."]}
            )
        return attrs


class BudgetCheckApi(APIView):
    """May this call go ahead? A denial is 200 with allowed=false."""

    @extend_schema(request=BudgetCheckInputSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = BudgetCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = acting_user(request, v.get("user"))
        result = services.budget_check(
            user=user, agent=v["agent"], model=v["model"], run_id=v["run_id"],
            input_tokens=v.get("estimated_input_tokens"), prompt=v.get("prompt"), messages=v.get("messages"),
            max_output_tokens=v.get("max_output_tokens"), reserve=v["reserve"],
        )
        reservation = result.reservation
        return Response({
            "allowed": result.allowed,
            "reason": result.reason,
            "message": result.message,
            "denied_by": result.denied_by,
            "estimate": {
                "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                "total_tokens": result.input_tokens + result.output_tokens,
                "cost_usd": money_str(result.cost_usd),
            },
            "budgets": [budget_out(i) for i in result.budgets],
            "reservation": (
                {"id": str(reservation.pk), "expires_at": reservation.expires_at.isoformat()}
                if reservation else None
            ),
        })


class ReservationActionInputSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, help_text="Service keys only.")


class _ReservationActionApi(APIView):

    def _user(self, request: Request):
        body = request.data if isinstance(request.data, dict) else {}
        return acting_user(request, body.get("user") or request.query_params.get("user"))


class ReservationReleaseApi(_ReservationActionApi):
    """Give a hold back before it expires. Releasing twice answers the same; 409 once committed/expired."""

    @extend_schema(request=ReservationActionInputSerializer, responses={200: dict, 404: dict, 409: dict})
    def post(self, request: Request, reservation_id) -> Response:
        reservation = services.reservation_release(user=self._user(request), reservation_id=reservation_id)
        return Response(reservation_out(reservation))


class ReservationCommitApi(_ReservationActionApi):
    """Close a hold without charging it (a usage record with reservation_id is the normal commit)."""

    @extend_schema(request=ReservationActionInputSerializer, responses={200: dict, 404: dict, 409: dict})
    def post(self, request: Request, reservation_id) -> Response:
        reservation = services.reservation_commit(user=self._user(request), reservation_id=reservation_id)
        return Response(reservation_out(reservation))


class ReservationDetailApi(_ReservationActionApi):
    @extend_schema(responses={200: dict, 404: dict})
    def get(self, request: Request, reservation_id) -> Response:
        reservation = selectors.reservation_for_user(user=self._user(request), reservation_id=reservation_id)
        if reservation is None:
            raise NotFound("No such reservation.")
        return Response(reservation_out(reservation))
