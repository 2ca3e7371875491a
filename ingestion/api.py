"""POST /api/v1/usage (into the ingestion pipeline) and GET /api/v1/usage (the caller's ledger).

Both answer usage records through ``tokens.serializers.usage_record_out`` (the hot path); the
serializers here and in tokens.serializers document them (docs/api.md, "One contract").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.params import parse_when, query_int, query_text
from core.api.parsers import PerRecordJSONParser
from core.errors import InvalidInput, PermissionDenied
from ingestion.services import usage_ingest
from tokens import selectors
from tokens.auth import acting_user, request_key
from tokens.serializers import UsageRecordInputSerializer, UsageRecordOutputSerializer, usage_record_out


class UsageBatchInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageBatch"

    records = serializers.ListField(
        child=UsageRecordInputSerializer(), min_length=1, max_length=settings.NETRA_MAX_BATCH
    )


class UsageBatchItemSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageBatchItem"

    index = serializers.IntegerField(help_text="The record's position in the batch.")
    status = serializers.ChoiceField(choices=["created", "duplicate", "invalid"])
    record = UsageRecordOutputSerializer(required=False, help_text="created and duplicate: the stored record.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="invalid: messages per field, dotted for nested fields.",
    )


class UsageBatchCountsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageBatchCounts"

    created = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    invalid = serializers.IntegerField()


class UsageBatchOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageBatchResult"

    results = UsageBatchItemSerializer(many=True, help_text="One per record, in the order posted.")
    counts = UsageBatchCountsSerializer()


class UsagePageSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsagePage"

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = UsageRecordOutputSerializer(many=True)


class UsagePagination(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class UsageApi(APIView):
    """POST one record or a batch; GET the caller's records."""

    # Text is checked record by record (tokens.usage_input): a bad record in a batch is refused alone.
    parser_classes = [PerRecordJSONParser]

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="UsagePost",
            serializers=[UsageRecordInputSerializer, UsageBatchInputSerializer],
            resource_type_field_name=None,
        ),
        responses={
            201: OpenApiResponse(UsageRecordOutputSerializer, description="Stored."),
            200: OpenApiResponse(
                UsageRecordOutputSerializer, description="Stored before (same request_id): the original record."
            ),
            207: OpenApiResponse(
                UsageBatchOutputSerializer,
                description="A batch: valid records are stored even when others are invalid.",
            ),
            **error_responses(400, 403),
        },
        description=f"One record, or {{\"records\": [...]}} with up to {settings.NETRA_MAX_BATCH}. "
        "Idempotent on request_id.",
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
            OpenApiParameter("from", str, description="ISO date or datetime (dates are midnight UTC)."),
            OpenApiParameter("to", str, description="ISO date or datetime, exclusive."),
            *(OpenApiParameter(name, str) for name in ("agent", "model", "tool", "run_id", "tag")),
            OpenApiParameter("project", int, description="Only records attributed to this project id."),
            OpenApiParameter("user", str, description="Service keys only: this user's records."),
            OpenApiParameter("cursor", str, description="From the previous page's next or previous link."),
            OpenApiParameter("page_size", int, description=f"1 to {UsagePagination.max_page_size}, default "
                             f"{UsagePagination.page_size}."),
        ],
        responses={200: UsagePageSerializer, **error_responses(400, 403)},
        description="The caller's usage records, newest first, a page at a time.",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        user = acting_user(request, params.get("user"))
        qs = selectors.usage_filter(
            user=user,
            start=parse_when(params.get("from"), "from"),
            end=parse_when(params.get("to"), "to"),
            agent=query_text(params, "agent", max_length=100),
            model=query_text(params, "model"),
            tool=query_text(params, "tool", max_length=100),
            run_id=query_text(params, "run_id"),
            tag=query_text(params, "tag", max_length=64),
            project_id=query_int(params, "project"),
        ).select_related("user")
        paginator = UsagePagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([usage_record_out(r) for r in page])
