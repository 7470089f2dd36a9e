"""Example routes of the ready-to-run service: one protected, one public (the benchmarks' floor)."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response

from authgate.views import AuthgateAPIView


class ProtectedView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=["examples"], responses={200: inline_serializer("Protected", {"message": serializers.CharField()})})
    def get(self, request):
        return Response({"message": f"Hello {request.user.get_username()}, you have accessed a protected route!"})


class PublicView(AuthgateAPIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["examples"], responses={200: inline_serializer("Public", {"ok": serializers.BooleanField()})})
    def get(self, request):
        return Response({"ok": True})
