"""Thin DRF views for the metering core (v1)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from netra_site.api_errors import ApiError
from netra_site.api_fields import StrictCharField, TokenCountField
from tokens import selectors
from tokens.models import ApiKey, UsageRecord
from tokens.pricing import catalog
from tokens.services import ActingUserError, acting_user_resolve, money_str, usage_records_ingest
from tokens.tokenizer import count_messages, count_text
from tokens.usage_input import MAX_LATENCY_MS


def acting_user(request: Request, username: str | None = None):
    """The user a request acts for (service keys may name another user)."""
    try:
        return acting_user_resolve(
            user=request.user, api_key=getattr(request, "auth", None) if _is_key(request) else None,
            username=username,
        )
    except ActingUserError as exc:
        raise ApiError(str(exc), code=exc.code, status_code=exc.status, fields={"user": [str(exc)]}) from exc


def _is_key(request: Request) -> bool:
    return isinstance(getattr(request, "auth", None), ApiKey)


def parse_when(value: str | None, name: str):
    """An ISO date or datetime query parameter (dates mean midnight UTC)."""
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is not None:
            parsed = datetime.combine(day, time.min, tzinfo=UTC)
    if parsed is None:
        raise ApiError(f"{name} must be an ISO 8601 date or datetime.", fields={name: ["Invalid date."]})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def usage_record_out(record: UsageRecord, *, duplicate: bool | None = None) -> dict[str, Any]:
    data = {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "tool": record.tool,
        "model": record.model,
        "provider": record.provider,
        "run_id": record.run_id,
        "tokens": {
            "input": record.input_tokens,
            "cached_input": record.cached_input_tokens,
            "cache_write": record.cache_write_tokens,
            "output": record.output_tokens,
            "reasoning": record.reasoning_tokens,
            "total": record.total_tokens,
        },
        "cost_usd": money_str(record.cost_usd),
        "priced": record.priced,
        "cache_hit": record.cache_hit,
        "optimization": (
            {"technique": record.optimization_technique, "original_tokens": record.original_tokens}
            if record.optimization_technique
            else None
        ),
        "reservation_id": str(record.reservation_id) if record.reservation_id else None,
        "latency_ms": record.latency_ms,
        "metadata": record.metadata,
        "occurred_at": record.occurred_at.isoformat(),
        "received_at": record.received_at.isoformat(),
    }
    if duplicate is not None:
        data["duplicate"] = duplicate
    return data


class UsageInSerializer(serializers.Serializer):
    """Schema only: one usage record as posted (validated in tokens.usage_input)."""

    request_id = serializers.CharField(max_length=200)
    model = serializers.CharField(max_length=200)
    agent = serializers.CharField(required=False, default="default")
    tool = serializers.CharField(required=False)
    run_id = serializers.CharField(required=False)
    user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")
    usage = serializers.DictField(required=False, help_text="The provider SDK's usage object.")
    usage_format = serializers.ChoiceField(
        choices=["openai_chat", "openai_responses", "anthropic"], required=False
    )
    prompt_tokens = TokenCountField(required=False)
    completion_tokens = TokenCountField(required=False)
    occurred_at = serializers.DateTimeField(required=False)
    optimization = serializers.DictField(required=False)
    cache_hit = serializers.BooleanField(required=False)
    reservation_id = serializers.UUIDField(required=False)
    latency_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_LATENCY_MS)
    metadata = serializers.DictField(required=False)


class UsagePagination(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class UsageApi(APIView):
    """POST one record or a batch; GET the caller's records."""

    @extend_schema(
        request=UsageInSerializer,
        responses={201: dict, 200: dict, 207: dict, 400: dict},
        description="One record, or {\"records\": [...]} with up to 1000. Idempotent on request_id.",
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise ApiError("The body must be a JSON object.", fields={"body": ["Expected a JSON object."]})
        if "records" in body:
            return self._batch(request, body["records"])
        (result,) = usage_records_ingest(user=request.user, api_key=self._key(request), payloads=[body])
        if result.status == "invalid":
            if result.error_code == "permission_denied":
                (message,) = result.errors["user"]
                raise ApiError(message, code="permission_denied", fields=result.errors,
                               status_code=status.HTTP_403_FORBIDDEN)
            names = ", ".join(result.errors)
            raise ApiError(f"Invalid usage record: {names}.", code="invalid", fields=result.errors)
        duplicate = result.status == "duplicate"
        return Response(
            usage_record_out(result.record, duplicate=duplicate),
            status=status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED,
        )

    @staticmethod
    def _key(request: Request):
        return request.auth if _is_key(request) else None

    def _batch(self, request: Request, records: Any) -> Response:
        if not isinstance(records, list):
            raise ApiError("records must be a list.", fields={"records": ["Expected a list."]})
        if not records:
            raise ApiError("records is empty.", fields={"records": ["At least one record."]})
        if len(records) > settings.NETRA_MAX_BATCH:
            raise ApiError(
                f"At most {settings.NETRA_MAX_BATCH} records per batch.",
                fields={"records": [f"At most {settings.NETRA_MAX_BATCH} records."]},
            )
        results = usage_records_ingest(user=request.user, api_key=self._key(request), payloads=records)
        out = []
        counts = {"created": 0, "duplicate": 0, "invalid": 0}
        for result in results:
            counts[result.status] += 1
            if result.status == "invalid":
                out.append({"index": result.index, "status": "invalid", "errors": result.errors})
            else:
                out.append({
                    "index": result.index,
                    "status": result.status,
                    "record": usage_record_out(result.record, duplicate=result.status == "duplicate"),
                })
        return Response({"results": out, "counts": counts}, status=status.HTTP_207_MULTI_STATUS)

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in ("from", "to", "agent", "model", "tool", "run_id", "user", "cursor")
        ],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        user = acting_user(request, params.get("user"))
        qs = selectors.usage_filter(
            user=user,
            start=parse_when(params.get("from"), "from"),
            end=parse_when(params.get("to"), "to"),
            agent=params.get("agent"),
            model=params.get("model"),
            tool=params.get("tool"),
            run_id=params.get("run_id"),
        ).select_related("user")
        paginator = UsagePagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([usage_record_out(r) for r in page])


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
            raise ApiError(
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
            raise ApiError(f"No run {run_id!r}.", code="not_found", status_code=404)
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


def price_out(price) -> dict[str, Any]:
    return {
        "name": price.name,
        "provider": price.provider,
        "mode": price.mode,
        "aliases": price.aliases,
        "input_per_million": money_str(price.input_per_million),
        "output_per_million": money_str(price.output_per_million),
        "cache_read_per_million": money_str(price.cache_read_per_million),
        "cache_write_per_million": money_str(price.cache_write_per_million),
        "reasoning_per_million": money_str(price.reasoning_per_million),
        "tiers": price.tiers,
        "context_window": price.context_window,
        "max_output_tokens": price.max_output_tokens,
        "valid_from": price.valid_from.isoformat(),
    }


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
