"""Thin DRF views for the metering core (v1)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import StrictCharField
from core.api.params import parse_when
from core.errors import InvalidInput, NotFound
from core.money import money_str
from tokens import selectors
from tokens.auth import acting_user
from tokens.pricing import catalog
from tokens.serializers import price_out
from tokens.tokenizer import count_messages, count_text


class UsageSummaryApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPINGS), required=False),
            OpenApiParameter("from", str, required=False),
            OpenApiParameter("to", str, required=False),
            OpenApiParameter("user", str, required=False),
        ],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        group_by = params.get("group_by", "agent")
        if group_by not in selectors.GROUPINGS:
            raise InvalidInput(
                "group_by must be one of agent, model, tool, day.",
                fields={"group_by": [f"Unknown grouping {group_by!r}."]},
            )
        user = acting_user(request, params.get("user"))
        data = selectors.usage_summary(
            user=user,
            group_by=group_by,
            start=parse_when(params.get("from"), "from"),
            end=parse_when(params.get("to"), "to"),
        )
        data["totals"]["cost_usd"] = money_str(data["totals"]["cost_usd"])
        for group in data["groups"]:
            group["cost_usd"] = money_str(group["cost_usd"])
        return Response(data)


def _metrics_out(metrics: dict) -> dict:
    def fix(row: dict) -> dict:
        row = dict(row)
        row["cost_usd"] = money_str(row["cost_usd"])
        return row

    return {
        "totals": fix(metrics["totals"]),
        "by_agent": {k: fix(v) for k, v in metrics["by_agent"].items()},
        "by_tool": {k: fix(v) for k, v in metrics["by_tool"].items()},
    }


class RunDetailApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("user", str, required=False)], responses=dict)
    def get(self, request: Request, run_id: str) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        run = selectors.run_get(user=user, run_id=run_id)
        if run is None:
            raise NotFound(f"No run {run_id!r}.")
        metrics = selectors.run_metrics(run=run)
        total = metrics["totals"]["total_tokens"]
        return Response({
            "run_id": run.run_id,
            "user": user.get_username(),
            "created_at": run.created_at.isoformat(),
            "token_budget": run.token_budget,
            "tokens_remaining": None if run.token_budget is None else max(run.token_budget - total, 0),
            "agent_budgets": run.agent_budgets,
            **_metrics_out(metrics),
        })


class ModelListApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("provider", str, required=False)], responses=dict)
    def get(self, request: Request) -> Response:
        provider = request.query_params.get("provider")
        rows = [p for p in selectors.prices_current() if not provider or p.provider == provider]
        return Response({"count": len(rows), "models": [price_out(p) for p in rows]})


class TokenCountApi(APIView):
    class InputSerializer(serializers.Serializer):
        model = serializers.CharField(max_length=200)
        text = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
        messages = serializers.ListField(child=serializers.DictField(), required=False)

        def validate(self, attrs):
            if ("text" in attrs) == ("messages" in attrs):
                raise serializers.ValidationError({"text": ["Provide exactly one of text or messages."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        model = serializers.CharField()
        tokens = serializers.IntegerField()
        encoding = serializers.CharField()
        exact = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
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
