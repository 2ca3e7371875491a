"""API routes of the analytics app, mounted under /api/v1/."""

from django.urls import path

from analytics import alert_views, api

urlpatterns = [
    path("reports/cost", api.ReportCostApi.as_view(), name="report-cost"),
    path("reports/reconciliation", api.ReportReconciliationApi.as_view(), name="report-reconciliation"),
    path("policy", api.PolicyApi.as_view(), name="policy"),
    path("alerts", alert_views.AlertListApi.as_view(), name="alerts-list"),
    path("alerts/<id:alert_id>/acknowledge", alert_views.AlertAcknowledgeApi.as_view(), name="alert-acknowledge-api"),
]
