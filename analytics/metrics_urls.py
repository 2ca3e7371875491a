"""GET /metrics (Prometheus text), mounted at the site root."""

from django.urls import path

from analytics import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
