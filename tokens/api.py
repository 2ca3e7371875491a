"""Thin DRF views for the metering core (v1)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, StrictCharField
from core.api.params import USER_PARAM, parse_when, query_text
from core.errors import InvalidInput, NotFound
from tokens import selectors
from tokens.auth import acting_user
from tokens.pricing import catalog
from tokens.serializers import ModelPriceOutputSerializer, UsageGroupSerializer, UsageTotalsSerializer
from tokens.tokenizer import count_messages, count_text


class UsageSummaryApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "UsageSummary"

        group_by = serializers.ChoiceField(choices=list(selectors.GROUPINGS))
        totals = UsageTotalsSerializer()
        groups = UsageGroupSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPINGS), default="agent"),
            OpenApiParameter("from", str, description="ISO date or datetime (dates are midnight UTC)."),
            OpenApiParameter("to", str, description="ISO date or datetime, exclusive."),
            OpenApiParameter("tag", str, description="Only records carrying this tag."),
            USER_PARAM,
        ],
        responses={200: OutputSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        group_by = params.get("group_by", "agent")
        if group_by not in selectors.GROUPINGS:
            raise InvalidInput(
                "group_by must be one of " + ", ".join(selectors.GROUPINGS) + ".",
                fields={"group_by": [f"Unknown grouping {group_by!r}."]},
            )
        user = acting_user(request, params.get("user"))
        data = selectors.usage_summary(
            user=user,
            group_by=group_by,
            start=parse_when(params.get("from"), "from"),
            end=parse_when(params.get("to"), "to"),
            tag=query_text(params, "tag", max_length=64),
        )
        return Response(self.OutputSerializer(data).data)


class RunDetailApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RunDetail"

        run_id = serializers.CharField()
        user = serializers.CharField()
        created_at = IsoDateTimeField()
        token_budget = serializers.IntegerField(allow_null=True)
        tokens_remaining = serializers.IntegerField(allow_null=True)
        agent_budgets = serializers.DictField(child=serializers.IntegerField(), help_text="Tokens per agent.")
        totals = UsageTotalsSerializer()
        by_agent = serializers.DictField(child=UsageTotalsSerializer())
        by_tool = serializers.DictField(child=UsageTotalsSerializer())

    @extend_schema(parameters=[USER_PARAM], responses={200: OutputSerializer, **error_responses(400, 403, 404)})
    def get(self, request: Request, run_id: str) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        run = selectors.run_get(user=user, run_id=run_id)
        if run is None:
            raise NotFound(f"No run {run_id!r}.")
        metrics = selectors.run_metrics(run=run)
        total = metrics["totals"]["total_tokens"]
        return Response(self.OutputSerializer({
            "run_id": run.run_id,
            "user": user.get_username(),
            "created_at": run.created_at,
            "token_budget": run.token_budget,
            "tokens_remaining": None if run.token_budget is None else max(run.token_budget - total, 0),
            "agent_budgets": run.agent_budgets,
            **metrics,
        }).data)


class ModelListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ModelList"

        count = serializers.IntegerField()
        models = ModelPriceOutputSerializer(many=True)

    @extend_schema(
        parameters=[OpenApiParameter("provider", str, description="Only this provider's models.")],
        responses={200: OutputSerializer, **error_responses()},
    )
    def get(self, request: Request) -> Response:
        provider = request.query_params.get("provider")
        rows = [p for p in selectors.prices_current() if not provider or p.provider == provider]
        return Response(self.OutputSerializer({"count": len(rows), "models": rows}).data)


class TokenCountApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenCount"

        model = serializers.CharField(max_length=200)
        text = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
        messages = serializers.ListField(child=serializers.DictField(), required=False)

        def validate(self, attrs):
            if ("text" in attrs) == ("messages" in attrs):
                raise serializers.ValidationError({"text": ["Provide exactly one of text or messages."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenCount"

        model = serializers.CharField()
        tokens = serializers.IntegerField()
        encoding = serializers.CharField()
        exact = serializers.BooleanField(help_text="False: an approximation (no public tokenizer).")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = data.validated_data["model"]
        price = catalog.latest(model)
        provider = price.provider if price else ""
        if "text" in data.validated_data:
            result = count_text(data.validated_data["text"], model, provider)
        else:
            result = count_messages(data.validated_data["messages"], model, provider)
        return Response(self.OutputSerializer(
            {"model": model, "tokens": result.tokens, "encoding": result.encoding, "exact": result.exact}
        ).data)
