"""URLs of the ready-to-run authgate service."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from authgate.metrics import MetricsView
from authgate.oauth import AuthorizationServerMetadataView
from authgate.pages import AccountPageView

from . import adapters, views

urlpatterns = [
    path("", AccountPageView.as_view(), name="account"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("authgate.urls")),
    # RFC 8414 metadata lives at the site root, not under the app's prefix.
    path(
        ".well-known/oauth-authorization-server",
        AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    path("api/protected/", views.ProtectedView.as_view(), name="protected"),
    path("api/public/", views.PublicView.as_view(), name="public"),
    # The same sessions outside DRF: Django Ninja and plain Django views.
    path("api/ninja/", adapters.ninja_api.urls),
    path("api/plain/protected/", adapters.plain_protected, name="plain-protected"),
    path("api/plain/async/protected/", adapters.plain_async_protected, name="plain-async-protected"),
    path("api/health/", views.HealthView.as_view(), name="health"),
    # Prometheus; loopback only unless AUTHGATE["METRICS_ALLOWED_IPS"] says otherwise.
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "authgate.errors.handler400"
handler403 = "authgate.errors.handler403"
handler404 = "authgate.errors.handler404"
handler500 = "authgate.errors.handler500"
