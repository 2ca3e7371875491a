"""API routes of the metering core, mounted under /api/v1/."""

from django.urls import path

from tokens import api, api_keys

urlpatterns = [
    path("usage/summary", api.UsageSummaryApi.as_view(), name="usage-summary"),
    path("runs/<text_id:run_id>", api.RunDetailApi.as_view(), name="run-detail"),
    path("models", api.ModelListApi.as_view(), name="models"),
    path("tokens/count", api.TokenCountApi.as_view(), name="tokens-count"),
    path("keys", api_keys.ApiKeyListApi.as_view(), name="keys"),
    path("keys/<id:key_id>", api_keys.ApiKeyDetailApi.as_view(), name="key-detail"),
]
