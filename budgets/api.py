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
from budgets.api_outputs import (
    BudgetForecastOutputSerializer,
    BudgetOutputSerializer,
    ReservationOutputSerializer,
)
from budgets.forecast import budget_figures_forecast, budgets_for_user_forecast
from budgets.models import Budget
from budgets.ratelimits import rate_limits_take
from core.api.errors import error_body, error_responses
from core.api.fields import IsoDateTimeField, MoneyField, StrictCharField, TokenCountField
from core.api.params import USER_PARAM
from core.errors import InvalidInput, NotFound, PermissionDenied
from organizations.models import Organization, Project
from organizations.selectors import can_manage
from tokens.auth import acting_user, is_operator, request_key
from tokens.models import ApiKey
from tokens.usage_input import MAX_TAG_LENGTH, MAX_TAGS, parse_tags


class BudgetWriteSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetWrite"

    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    scope = serializers.ChoiceField(choices=Budget.SCOPES, default=Budget.SCOPE_USER)
    user = serializers.CharField(required=False, allow_null=True, help_text="Username (user scopes only).")
    organization = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62,
                                            help_text="Organization id (scopes organization and tag).")
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62,
                                       help_text="Project id (scope project).")
    api_key = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62,
                                       help_text="API key id (scope key).")
    tag = serializers.CharField(required=False, allow_blank=True, max_length=64, help_text="Scope tag.")
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
    budget = next((b for b in Budget.objects.filter(pk=budget_id).select_related("user", *selectors.LABEL_RELATED)),
                  None)
    if budget is None:
        raise NotFound("No such budget.")
    if not is_operator(request) and not selectors.budget_visible_to(budget=budget, user=request.user):
        raise NotFound("No such budget.")
    return budget


def _may_write(request: Request, *, scope: str, organization, api_key) -> None:
    """Operators write any budget; an organization's owners and admins its organization, project and tag
    budgets and those of its keys; a customer the budgets of their own keys. Anyone else: 403."""
    if is_operator(request):
        return
    if scope == Budget.SCOPE_KEY and api_key is not None and api_key.user_id == request.user.pk:
        return
    if scope in Budget.ORG_SCOPES and organization is not None and can_manage(request.user, organization):
        return
    raise PermissionDenied("Only staff, service keys and the organization's owners and admins may do this.")


def _targets(values: dict[str, Any], request: Request) -> dict[str, Any]:
    """Ids of organization, project and key become rows the caller may name (an unknown one is a 400)."""
    for name, model in (("organization", Organization), ("project", Project), ("api_key", ApiKey)):
        if values.get(name) is None:
            continue
        row = model.objects.filter(pk=values[name]).first()
        if row is None:
            raise InvalidInput(f"Unknown {name} {values[name]}.", fields={name: [f"No such {name}."]})
        values[name] = row
    return values


class BudgetListApi(APIView):
    """GET the caller's budgets with live figures; POST creates one (staff and service keys; an organization's
    owners and admins for its organization, project, key and tag budgets)."""

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BudgetList"

        budgets = BudgetForecastOutputSerializer(many=True, help_text="The caller's budgets and the global ones.")

    @extend_schema(
        operation_id="budgets_list",
        description="The caller's budgets with their live figures.",
        parameters=[OpenApiParameter("user", str, description="Service keys only: this user's budgets.")],
        responses={200: ListOutputSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response(self.ListOutputSerializer({"budgets": budgets_for_user_forecast(user=user)}).data)

    @extend_schema(
        description="Create a budget: staff and service keys.",
        request=BudgetWriteSerializer,
        responses={201: BudgetForecastOutputSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        data = BudgetWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = _targets(_clean(dict(data.validated_data)), request)
        scope = values.get("scope", Budget.SCOPE_USER)
        api_key = values.get("api_key")
        organization = values.get("organization")
        if scope == Budget.SCOPE_PROJECT and values.get("project") is not None:
            organization = values["project"].organization
        elif scope == Budget.SCOPE_KEY and api_key is not None and api_key.project_id:
            organization = api_key.project.organization
        _may_write(request, scope=scope, organization=organization, api_key=api_key)
        budget = services.budget_create(by=request.user, **values)
        item = budget_figures_forecast(budget=budget)
        return Response(BudgetForecastOutputSerializer(item).data, status=status.HTTP_201_CREATED)


class BudgetDetailApi(APIView):
    """GET one budget; PATCH changes limits and settings (as POST may create it; audited)."""

    @extend_schema(
        operation_id="budgets_retrieve",
        description="One budget with its live figures.",
        responses={200: BudgetForecastOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, budget_id: int) -> Response:
        budget = _get_budget(request, budget_id)
        item = budget_figures_forecast(budget=budget)
        return Response(BudgetForecastOutputSerializer(item).data)

    @extend_schema(
        description="Change limits and settings: staff and service keys; every change is audited.",
        request=BudgetWriteSerializer,
        responses={200: BudgetForecastOutputSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, budget_id: int) -> Response:
        budget = _get_budget(request, budget_id)
        data = BudgetWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        fixed = {"scope", "user", "agent", "run_id", "organization", "project", "api_key", "tag"} & set(changes)
        if fixed:
            raise InvalidInput("Scope and what it limits (user, agent, run_id, organization, project, api_key, tag) "
                               "are fixed; create another budget instead.",
                               fields={k: ["Cannot be changed."] for k in fixed})
        _may_write(request, scope=budget.scope, organization=budget.organization, api_key=budget.api_key)
        budget = services.budget_update(budget=budget, by=request.user, **_clean(changes))
        item = budget_figures_forecast(budget=budget)
        return Response(BudgetForecastOutputSerializer(item).data)


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


class BudgetDenialSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BudgetDenial"

    id = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField()
    scope = serializers.ChoiceField(choices=Budget.SCOPES)


class BudgetCheckApi(APIView):
    """May this call go ahead? A denial is 200 with allowed=false; past a rate limit of the key, the user or
    the project, 429 with Retry-After (nothing held, nothing counted)."""

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
        tags = serializers.ListField(
            child=StrictCharField(max_length=MAX_TAG_LENGTH), required=False, max_length=MAX_TAGS,
            help_text="The call's cost-center tags (tag budgets of the caller's organization apply).",
        )

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
        denials = BudgetDenialSerializer(many=True, help_text="Each blocking budget, named.")
        estimate = BudgetEstimateSerializer(source="*")
        budgets = BudgetOutputSerializer(many=True)
        reservation = BudgetHoldSerializer(allow_null=True, help_text="With reserve=true and allowed.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403, 429)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = acting_user(request, v.get("user"))
        key = request_key(request)
        input_tokens = services.prompt_tokens(model=v["model"], input_tokens=v.get("estimated_input_tokens"),
                                              prompt=v.get("prompt"), messages=v.get("messages"))
        # Tokens per minute count what the call may use, as OpenAI's do: its prompt and its output cap.
        rate = rate_limits_take(api_key=key, user=user, project=key.project if key is not None else None,
                                tokens=input_tokens + (v.get("max_output_tokens") or 0))
        if not rate.allowed:
            return Response(error_body("rate_limited", rate.message), status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers=rate.headers)
        result = services.budget_check(
            user=user, agent=v["agent"], model=v["model"], run_id=v["run_id"], input_tokens=input_tokens,
            max_output_tokens=v.get("max_output_tokens"), reserve=v["reserve"], api_key=key,
            tags=parse_tags(v.get("tags"), {}),
        )
        return Response(self.OutputSerializer(result).data, headers=rate.headers)


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
