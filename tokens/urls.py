from django.urls import path

from tokens import api, api_optimize

urlpatterns = [
    path("usage", api.UsageApi.as_view(), name="usage"),
    path("usage/summary", api.UsageSummaryApi.as_view(), name="usage-summary"),
    path("runs/<str:run_id>", api.RunDetailApi.as_view(), name="run-detail"),
    path("models", api.ModelListApi.as_view(), name="models"),
    path("tokens/count", api.TokenCountApi.as_view(), name="tokens-count"),
    path("optimize/prompt", api_optimize.OptimizePromptApi.as_view(), name="optimize-prompt"),
    path("optimize/context", api_optimize.OptimizeContextApi.as_view(), name="optimize-context"),
    path("optimize/chunks", api_optimize.OptimizeChunksApi.as_view(), name="optimize-chunks"),
    path(
        "optimize/data-request", api_optimize.OptimizeDataRequestApi.as_view(), name="optimize-data-request"
    ),
    path("optimize/preferences", api_optimize.OptimizePreferenceApi.as_view(), name="optimize-preferences"),
    path("cache/lookup", api_optimize.CacheLookupApi.as_view(), name="cache-lookup"),
    path("cache/store", api_optimize.CacheStoreApi.as_view(), name="cache-store"),
    path("cache/stats", api_optimize.CacheStatsApi.as_view(), name="cache-stats"),
    path("templates/select", api_optimize.TemplateSelectApi.as_view(), name="templates-select"),
    path("templates/<str:name>/render", api_optimize.TemplateRenderApi.as_view(), name="templates-render"),
]
