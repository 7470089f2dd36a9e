from django.contrib import admin
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from authgate.pages import AccountPageView


class ProtectedView(APIView):
    def get(self, request):
        return Response({"user": request.user.get_username()})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("authgate.urls")),
    path("api/protected/", ProtectedView.as_view()),
    path("", AccountPageView.as_view()),
]
