"""API routes of the token-saving services, mounted under /api/v1/."""

from django.urls import path

from optimization.api import cache, optimize, preferences, templates

urlpatterns = [
    path("optimize/prompt", optimize.OptimizePromptApi.as_view(), name="optimize-prompt"),
    path("optimize/context", optimize.OptimizeContextApi.as_view(), name="optimize-context"),
    path("optimize/chunks", optimize.OptimizeChunksApi.as_view(), name="optimize-chunks"),
    path("optimize/data-request", optimize.OptimizeDataRequestApi.as_view(), name="optimize-data-request"),
    path("optimize/preferences", preferences.OptimizePreferenceApi.as_view(), name="optimize-preferences"),
    path("cache/lookup", cache.CacheLookupApi.as_view(), name="cache-lookup"),
    path("cache/store", cache.CacheStoreApi.as_view(), name="cache-store"),
    path("cache/stats", cache.CacheStatsApi.as_view(), name="cache-stats"),
    path("templates/select", templates.TemplateSelectApi.as_view(), name="templates-select"),
    path("templates/<text_id:name>/render", templates.TemplateRenderApi.as_view(), name="templates-render"),
]
