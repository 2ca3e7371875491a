"""API routes of the token-saving services, mounted under /api/v1/."""

from django.urls import path

from optimization import api

urlpatterns = [
    path("optimize/prompt", api.OptimizePromptApi.as_view(), name="optimize-prompt"),
    path("optimize/context", api.OptimizeContextApi.as_view(), name="optimize-context"),
    path("optimize/chunks", api.OptimizeChunksApi.as_view(), name="optimize-chunks"),
    path("optimize/data-request", api.OptimizeDataRequestApi.as_view(), name="optimize-data-request"),
    path("optimize/preferences", api.OptimizePreferenceApi.as_view(), name="optimize-preferences"),
    path("cache/lookup", api.CacheLookupApi.as_view(), name="cache-lookup"),
    path("cache/store", api.CacheStoreApi.as_view(), name="cache-store"),
    path("cache/stats", api.CacheStatsApi.as_view(), name="cache-stats"),
    path("templates/select", api.TemplateSelectApi.as_view(), name="templates-select"),
    path("templates/<str:name>/render", api.TemplateRenderApi.as_view(), name="templates-render"),
]
