"""Thin DRF views of the analytics app: cost reports and the optimization policy."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import reports, selectors
from analytics.models import OptimizationPolicy
from analytics.optimizer import WINDOW_DAYS
from analytics.services import policy_refresh
from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, MoneyField
from core.errors import InvalidInput
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
        raise InvalidInput(str(exc), fields={exc.field: [str(exc)]}) from exc


PERIOD_PARAMS = [
    OpenApiParameter("period", str, description="7d, 30d, 90d or any 1..366 days (default 30d)."),
    OpenApiParameter("start", str, description="Custom period: first UTC day (YYYY-MM-DD)."),
    OpenApiParameter("end", str, description="Custom period: last UTC day (default today)."),
    OpenApiParameter("user", str, description="Service keys only: report for this user."),
]


def rate_field(**kwargs) -> serializers.DecimalField:
    """A share or rate from 0 to 1 as a four-place decimal string ("0.7964"); null when undefined."""
    return serializers.DecimalField(max_digits=None, decimal_places=4, allow_null=True, **kwargs)


class ReportPeriodSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportPeriod"

    start = serializers.DateField()
    end = serializers.DateField(help_text="Inclusive.")
    days = serializers.IntegerField()


class TopConsumerSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportTopConsumer"

    agent = serializers.CharField()
    cost_usd = MoneyField()
    total_tokens = serializers.IntegerField()
    share_of_cost = rate_field()


class ReportSavingsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportSavings"

    optimization_usd = MoneyField()
    optimization_tokens = serializers.IntegerField()
    cache_usd = MoneyField()
    cache_tokens = serializers.IntegerField()
    total_usd = MoneyField()


class CostReportSummarySerializer(serializers.Serializer):
    """The summary report: totals, the top consumer, savings and recommendations."""

    class Meta:
        ref_name = "CostReportSummary"

    format = serializers.ChoiceField(choices=["summary", "detailed"])
    user = serializers.CharField()
    period = ReportPeriodSerializer()
    total_cost_usd = MoneyField(help_text="Billed: the list cost after the customer's price overrides.")
    total_list_cost_usd = MoneyField(help_text="The catalog (list) price of the same usage.")
    unpriced_requests = serializers.IntegerField(help_text="Requests of models without a price (cost 0).")
    total_tokens = serializers.IntegerField()
    total_requests = serializers.IntegerField()
    average_cost_per_request_usd = MoneyField(allow_null=True)
    top_consumer = TopConsumerSerializer(allow_null=True)
    cache_hit_rate = rate_field()
    optimization_savings = ReportSavingsSerializer()
    recommendations = serializers.ListField(child=serializers.CharField())


class ReportGroupSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportGroup"

    key = serializers.CharField()
    requests = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost_usd = MoneyField(help_text="Billed.")
    list_cost_usd = MoneyField(help_text="The catalog (list) price.")
    unpriced_requests = serializers.IntegerField()
    share_of_cost = rate_field()


class ReportDaySerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportDay"

    day = serializers.DateField()
    requests = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost_usd = MoneyField()


class ReportTechniqueSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportTechnique"

    technique = serializers.CharField()
    source = serializers.CharField(help_text="usage_records (reported by agents), or the service that saved.")
    requests = serializers.IntegerField()
    original_tokens = serializers.IntegerField()
    tokens_saved = serializers.IntegerField(required=False, help_text="Services only.")
    usd_saved = MoneyField(required=False, help_text="Services only.")


class OptimizationImpactSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportOptimizationImpact"

    optimized_requests = serializers.IntegerField()
    optimization_failures = serializers.IntegerField()
    failure_rate = rate_field()
    original_tokens = serializers.IntegerField()
    tokens_saved_reported = serializers.IntegerField()
    usd_saved_reported = MoneyField()
    compression_ratio = rate_field()
    techniques = ReportTechniqueSerializer(many=True)


class ReportRunSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReportRun"

    run_id = serializers.CharField()
    cost_usd = MoneyField()
    total_tokens = serializers.IntegerField()
    requests = serializers.IntegerField()


class CostReportDetailedSerializer(CostReportSummarySerializer):
    """The summary plus breakdowns by agent, model and tool, the daily trend and optimization impact."""

    class Meta:
        ref_name = "CostReportDetailed"

    by_agent = ReportGroupSerializer(many=True)
    by_model = ReportGroupSerializer(many=True)
    by_tool = ReportGroupSerializer(many=True)
    daily_trend = ReportDaySerializer(many=True)
    optimization_impact = OptimizationImpactSerializer()
    top_runs = ReportRunSerializer(many=True)


REPORT_DESCRIPTION = (
    "JSON for format=summary and format=detailed; for format=csv, one row per day, agent, model and tool "
    f"with the columns {', '.join(reports.CSV_COLUMNS)}."
)


class ReportCostApi(APIView):
    """The caller's cost report for a period: summary, detailed, or CSV rows."""

    content_negotiation_class = JsonOnlyNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["summary", "detailed", "csv"], default="summary"),
            *PERIOD_PARAMS,
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="CostReport",
                    serializers={"summary": CostReportSummarySerializer, "detailed": CostReportDetailedSerializer},
                    resource_type_field_name="format",
                ),
                description=REPORT_DESCRIPTION,
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=REPORT_DESCRIPTION),
            **error_responses(400, 403),
        },
    )
    def get(self, request: Request):
        user = acting_user(request, request.query_params.get("user"))
        period = period_from(request)
        kind = request.query_params.get("format", "summary")
        if kind == "summary":
            return Response(CostReportSummarySerializer(reports.report_summary(user=user, period=period)).data)
        if kind == "detailed":
            return Response(CostReportDetailedSerializer(reports.report_detailed(user=user, period=period)).data)
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


class PolicyModelSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PolicyModel"

    current = serializers.CharField(allow_null=True, help_text="The model most of the spend went to.")
    suggested = serializers.CharField(allow_null=True, help_text="A cheaper model to switch to, if any.")


class PolicyApi(APIView):
    """The caller's optimization policy (computed on first request, refreshed hourly)."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptimizationPolicy"

        user = serializers.CharField(source="user.get_username")
        compression_level = serializers.ChoiceField(choices=OptimizationPolicy.COMPRESSION_LEVELS)
        model = serializers.SerializerMethodField()
        caching_enabled = serializers.BooleanField()
        triggers = serializers.ListField(child=serializers.CharField())
        estimated_savings_usd = MoneyField()
        estimated_savings_window_days = serializers.SerializerMethodField()
        figures = serializers.DictField(help_text="What the recommendation is from: volumes, ratios, savings.")
        pinned = serializers.BooleanField(help_text="Set by an admin: not recomputed.")
        note = serializers.CharField()
        computed_at = IsoDateTimeField(allow_null=True)

        @extend_schema_field(PolicyModelSerializer)
        def get_model(self, policy: OptimizationPolicy) -> dict[str, str | None]:
            return {"current": policy.current_model or None, "suggested": policy.suggested_model or None}

        def get_estimated_savings_window_days(self, policy: OptimizationPolicy) -> int:
            return WINDOW_DAYS

    @extend_schema(parameters=[PERIOD_PARAMS[-1]], responses={200: OutputSerializer, **error_responses(400, 403)})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        policy = OptimizationPolicy.objects.select_related("user").filter(user=user).first()
        if policy is None or policy.computed_at is None and not policy.pinned:
            policy = policy_refresh(user=user)
        return Response(self.OutputSerializer(policy).data)


class ReconciliationModelSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ReconciliationModel"

    model = serializers.CharField()
    requests = serializers.IntegerField(help_text="Priced records of the model that carry a provider cost.")
    list_cost_usd = MoneyField(help_text="Netra's catalog (list) price of those records.")
    provider_cost_usd = MoneyField(help_text="What the provider reported for them (usage.cost).")
    difference_usd = MoneyField(help_text="Provider less list; negative when the provider reported less.")
    difference_percent = serializers.DecimalField(
        max_digits=None, decimal_places=4, allow_null=True,
        help_text="The difference as a percentage of the list cost; null when the list cost is 0.",
    )
    requests_differing = serializers.IntegerField(help_text="Records whose two costs are not equal.")


class ReportReconciliationApi(APIView):
    """Netra's list cost beside the provider-reported cost (``usage.cost``), by model, for a period."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CostReconciliation"

        user = serializers.CharField()
        period = ReportPeriodSerializer()
        requests = serializers.IntegerField()
        list_cost_usd = MoneyField()
        provider_cost_usd = MoneyField()
        difference_usd = MoneyField(help_text="Provider less list, over every model.")
        requests_differing = serializers.IntegerField()
        by_model = ReconciliationModelSerializer(many=True)

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: OutputSerializer, **error_responses(400, 403)})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        report = reports.report_reconciliation(user=user, period=period_from(request))
        return Response(self.OutputSerializer(report).data)
