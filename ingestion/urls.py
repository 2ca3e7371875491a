"""API routes of the ingestion pipeline, mounted under /api/v1/."""

from django.urls import path

from ingestion import api

urlpatterns = [
    path("usage", api.UsageApi.as_view(), name="usage"),
]
