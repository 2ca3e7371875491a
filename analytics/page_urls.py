"""Server-rendered pages of the analytics app (dashboards, reports, runs, alerts)."""

from django.urls import path

from analytics import alert_views, org_views, run_page, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/org/<slug:slug>/", org_views.org_dashboard, name="org-dashboard"),
    path("reports/", views.reports_page, name="reports"),
    path("runs/<text_id:run_id>/", run_page.run_page, name="run"),
    path("alerts/", alert_views.alerts_page, name="alerts"),
    path("alerts/<id:alert_id>/acknowledge/", alert_views.alert_acknowledge_page, name="alert-acknowledge"),
]
