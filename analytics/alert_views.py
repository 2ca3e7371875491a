"""Customers' own alerts: the /alerts/ page and GET /api/v1/alerts, POST /api/v1/alerts/<id>/acknowledge.

A user sees and acknowledges only alerts raised for them (site alerts, with
no user, stay in the admin). Anyone else's alert id answers 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import Alert
from analytics.org_views import bad_request
from analytics.services import alert_acknowledge
from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField
from core.errors import InvalidInput, NotFound
from tokens.auth import acting_user

ALERTS_PAGE_SIZE = 50
STATES = ("open", "acknowledged", "all")


def alerts_of(*, user, state: str = "all") -> QuerySet[Alert]:
    alerts = Alert.objects.filter(user=user).order_by("-created_at", "-pk")
    if state == "open":
        return alerts.filter(acknowledged_at__isnull=True)
    if state == "acknowledged":
        return alerts.filter(acknowledged_at__isnull=False)
    return alerts


def alert_of(*, user, alert_id: int) -> Alert | None:
    return Alert.objects.filter(user=user, pk=alert_id).first()


@login_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "all")
    if state not in STATES:
        return bad_request(request, "state must be open, acknowledged or all.", "/alerts/")
    paginator = Paginator(alerts_of(user=request.user, state=state), ALERTS_PAGE_SIZE)
    number = request.GET.get("page", "1")
    if not number.isdigit() or len(number) > 9 or not 1 <= int(number) <= paginator.num_pages:
        return bad_request(request, f"page must be a whole number from 1 to {paginator.num_pages}.", "/alerts/")
    return render(
        request,
        "analytics/alerts.html",
        {
            "page": paginator.page(int(number)),
            "state": state,
            "states": STATES,
            "open_count": alerts_of(user=request.user, state="open").count(),
        },
    )


@login_required
@require_POST
def alert_acknowledge_page(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_of(user=request.user, alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert.")
    alert_acknowledge(alert=alert, by=request.user)
    state = request.POST.get("state", "all")
    return redirect(f"/alerts/?state={state if state in STATES else 'all'}")


class AlertOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Alert"

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.KINDS)
    severity = serializers.ChoiceField(choices=Alert.SEVERITIES)
    message = serializers.CharField()
    budget_id = serializers.IntegerField(allow_null=True)
    figures = serializers.JSONField(help_text="The numbers behind the alert; budget alerts carry a forecast.")
    created_at = IsoDateTimeField()
    acknowledged_at = IsoDateTimeField(allow_null=True)
    acknowledged_by = serializers.SerializerMethodField()

    def get_acknowledged_by(self, alert: Alert) -> str | None:
        return alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None


class AlertListApi(APIView):
    """GET the caller's own alerts, newest first (at most 200)."""

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AlertList"

        alerts = AlertOutputSerializer(many=True)

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("state", str, enum=STATES, description="open, acknowledged or all (default)."),
            OpenApiParameter("user", str, description="Service keys only: this user's alerts."),
        ],
        responses={200: ListOutputSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        state = request.query_params.get("state", "all")
        if state not in STATES:
            raise InvalidInput("state must be open, acknowledged or all.", fields={"state": ["Not a state."]})
        user = acting_user(request, request.query_params.get("user"))
        alerts = alerts_of(user=user, state=state).select_related("acknowledged_by")[:200]
        return Response(self.ListOutputSerializer({"alerts": alerts}).data)


class AlertAcknowledgeApi(APIView):
    """POST: acknowledge one of the caller's alerts (idempotent)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AlertAcknowledge"

        user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")

    @extend_schema(operation_id="alerts_acknowledge", request=InputSerializer,
                   responses={200: AlertOutputSerializer, **error_responses(400, 403, 404)})
    def post(self, request: Request, alert_id: int) -> Response:
        data = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        user = acting_user(request, data.validated_data.get("user"))
        alert = alert_of(user=user, alert_id=alert_id)
        if alert is None:
            raise NotFound("No such alert.")
        return Response(AlertOutputSerializer(alert_acknowledge(alert=alert, by=request.user)).data)
