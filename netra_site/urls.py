from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway.urls import gateway_urlpatterns, otlp_urlpatterns

api_v1 = [
    path("", include("ingestion.urls")),
    path("", include("tokens.urls")),
    path("", include("organizations.urls")),
    path("", include("budgets.urls")),
    path("", include("optimization.urls")),
    path("", include("analytics.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    # Pages that link no icon (admin) make browsers ask here; lazy, as the hashed name needs collectstatic.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.ico"), permanent=False)),
    # The token-saving models moved from the tokens app to optimization: old admin links still land.
    re_path(
        r"^admin/tokens/(?P<rest>(?:prompttemplate|userpreference|savingsrecord|responsecacheentry)/.*)$",
        RedirectView.as_view(url="/admin/optimization/%(rest)s", permanent=True, query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include(api_v1)),
    # Provider-compatible gateway and OTLP/HTTP ingestion (docs/gateway.md).
    path("gateway/", include(gateway_urlpatterns)),
    path("v1/", include(otlp_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("live.urls")),
    path("", include("analytics.page_urls")),
    path("", include("budgets.page_urls")),
    path("", include("analytics.metrics_urls")),
]
