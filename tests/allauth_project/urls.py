"""The service's routes plus allauth's headless API under /_allauth/."""

from django.urls import include, path

from server.urls import urlpatterns as service

urlpatterns = [*service, path("_allauth/", include("allauth.headless.urls"))]
