"""POST /api/v1/usage (into the ingestion pipeline) and GET /api/v1/usage (the caller's ledger)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import TokenCountField
from core.api.params import parse_when
from core.errors import InvalidInput, PermissionDenied
from ingestion.services import usage_ingest
from tokens import selectors
from tokens.auth import acting_user, request_key
from tokens.serializers import usage_record_out
from tokens.usage_input import MAX_LATENCY_MS, USAGE_FORMATS


class UsageInSerializer(serializers.Serializer):
    """Schema only: one usage record as posted (validated in tokens.usage_input)."""

    request_id = serializers.CharField(max_length=200)
    model = serializers.CharField(max_length=200)
    agent = serializers.CharField(required=False, default="default")
    tool = serializers.CharField(required=False)
    run_id = serializers.CharField(required=False)
    user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")
    usage = serializers.DictField(required=False, help_text="The provider SDK's usage object.")
    usage_format = serializers.ChoiceField(choices=list(USAGE_FORMATS), required=False)
    service_tier = serializers.CharField(
        required=False, help_text="The tier the response says served the call: default, flex, priority, batch."
    )
    units = serializers.DictField(
        required=False, help_text="Billed units that are not tokens: input_seconds, input_characters, images, "
        "queries, web_search_requests, ... (docs/api.md)."
    )
    provider_cost_usd = serializers.DecimalField(
        max_digits=24, decimal_places=12, required=False, coerce_to_string=True,
        help_text="The cost the provider reported (OpenRouter usage.cost), kept beside Netra's price.",
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
            raise InvalidInput("The body must be a JSON object.", fields={"body": ["Expected a JSON object."]})
        if "records" in body:
            return self._batch(request, body["records"])
        (result,) = usage_ingest(user=request.user, api_key=request_key(request), payloads=[body])
        if result.status == "invalid":
            if result.error_code == "permission_denied":
                (message,) = result.errors["user"]
                raise PermissionDenied(message, fields=result.errors)
            names = ", ".join(result.errors)
            raise InvalidInput(f"Invalid usage record: {names}.", fields=result.errors)
        duplicate = result.status == "duplicate"
        return Response(
            usage_record_out(result.record, duplicate=duplicate),
            status=status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED,
        )

    def _batch(self, request: Request, records: Any) -> Response:
        if not isinstance(records, list):
            raise InvalidInput("records must be a list.", fields={"records": ["Expected a list."]})
        if not records:
            raise InvalidInput("records is empty.", fields={"records": ["At least one record."]})
        if len(records) > settings.NETRA_MAX_BATCH:
            raise InvalidInput(
                f"At most {settings.NETRA_MAX_BATCH} records per batch.",
                fields={"records": [f"At most {settings.NETRA_MAX_BATCH} records."]},
            )
        results = usage_ingest(user=request.user, api_key=request_key(request), payloads=records)
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
