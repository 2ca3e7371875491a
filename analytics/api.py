"""Thin DRF views of the analytics app: cost reports and the optimization policy."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import reports, selectors
from analytics.models import OptimizationPolicy
from analytics.services import policy_refresh
from core.errors import InvalidInput
from core.money import money_str
from tokens.auth import acting_user


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """``?format=`` names the report format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def period_from(request: Request) -> selectors.Period:
    try:
        return selectors.period_parse(
            period=request.query_params.get("period"),
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
        )
    except selectors.PeriodError as exc:
        raise InvalidInput(str(exc), fields={"period": [str(exc)]}) from exc


PERIOD_PARAMS = [
    OpenApiParameter("period", str, description="7d, 30d, 90d or any 1..366 days (default 30d)."),
    OpenApiParameter("start", str, description="Custom period: first UTC day (YYYY-MM-DD)."),
    OpenApiParameter("end", str, description="Custom period: last UTC day (default today)."),
    OpenApiParameter("user", str, description="Service keys only: report for this user."),
]


class ReportCostApi(APIView):
    """The caller's cost report for a period: summary, detailed, or CSV rows."""

    content_negotiation_class = JsonOnlyNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["summary", "detailed", "csv"]), *PERIOD_PARAMS],
        responses={200: dict},
    )
    def get(self, request: Request):
        user = acting_user(request, request.query_params.get("user"))
        period = period_from(request)
        kind = request.query_params.get("format", "summary")
        if kind == "summary":
            return Response(reports.report_summary(user=user, period=period))
        if kind == "detailed":
            return Response(reports.report_detailed(user=user, period=period))
        if kind == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(reports.CSV_COLUMNS)
            writer.writerows(reports.report_csv_rows(user=user, period=period))
            response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="netra-cost-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"'
            )
            return response
        raise InvalidInput("format must be summary, detailed or csv.", fields={"format": ["Unknown format."]})


def policy_out(policy: OptimizationPolicy) -> dict:
    return {
        "user": policy.user.get_username(),
        "compression_level": policy.compression_level,
        "model": {"current": policy.current_model or None, "suggested": policy.suggested_model or None},
        "caching_enabled": policy.caching_enabled,
        "triggers": policy.triggers,
        "estimated_savings_usd": money_str(policy.estimated_savings_usd),
        "estimated_savings_window_days": 30,
        "figures": policy.figures,
        "pinned": policy.pinned,
        "note": policy.note,
        "computed_at": policy.computed_at.isoformat() if policy.computed_at else None,
    }


class PolicyApi(APIView):
    """The caller's optimization policy (computed on first request, refreshed hourly)."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptimizationPolicy"

        user = serializers.CharField()
        compression_level = serializers.ChoiceField(choices=["none", "light", "medium", "aggressive"])
        model = serializers.DictField()
        caching_enabled = serializers.BooleanField()
        triggers = serializers.ListField(child=serializers.CharField())
        estimated_savings_usd = serializers.CharField()
        estimated_savings_window_days = serializers.IntegerField()
        figures = serializers.DictField()
        pinned = serializers.BooleanField()
        note = serializers.CharField()
        computed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(parameters=[PERIOD_PARAMS[-1]], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        policy = OptimizationPolicy.objects.select_related("user").filter(user=user).first()
        if policy is None or policy.computed_at is None and not policy.pinned:
            policy = policy_refresh(user=user)
        return Response(policy_out(policy))


class ReportReconciliationApi(APIView):
    """Netra's list cost beside the provider-reported cost (``usage.cost``), by model, for a period."""

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: dict})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response(reports.report_reconciliation(user=user, period=period_from(request)))
