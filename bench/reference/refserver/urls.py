from django.urls import path
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

from . import views

urlpatterns = [
    path("api/auth/login/", TokenObtainPairView.as_view(), name="login"),
    path("api/auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    # Logout = blacklist the given refresh token ({"refresh": ...}).
    path("api/auth/logout/", TokenBlacklistView.as_view(), name="logout"),
    path("api/protected/", views.protected, name="protected"),
    path("api/public/", views.public, name="public"),
]
