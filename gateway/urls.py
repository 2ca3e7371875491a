from django.urls import path

from gateway import otlp_api, views

gateway_urlpatterns = [
    path("openai/v1/chat/completions", views.gateway_view, name="gateway-openai-chat"),
    path("openai/v1/responses", views.gateway_view, name="gateway-openai-responses"),
    path("openai/v1/embeddings", views.gateway_view, name="gateway-openai-embeddings"),
    path("anthropic/v1/messages", views.gateway_view, name="gateway-anthropic-messages"),
]

otlp_urlpatterns = [
    path("traces", otlp_api.traces, name="otlp-traces"),
]
