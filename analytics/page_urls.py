"""Server-rendered pages of the analytics app (dashboard, reports)."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("reports/", views.reports_page, name="reports"),
]
