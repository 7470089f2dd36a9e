"""allauth's headless API under /_allauth/ (login, token refresh, logout: its own views)
and the bench's two DRF routes."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("_allauth/", include("allauth.headless.urls")),
    path("api/protected/", views.protected, name="protected"),
    path("api/public/", views.public, name="public"),
]
