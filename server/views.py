"""
Routes of the ready-to-run service itself: its health check, and two examples — one
protected, one public (the benchmarks' floor).
"""

from django.db import connection
from rest_framework.authentication import BaseAuthentication
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from authgate.revocation import get_store
from authgate.views import AuthgateAPIView, PublicView as AuthgatePublicView


class ProtectedView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["examples"], responses={200: inline_serializer("Protected", {"message": serializers.CharField()})}
    )
    def get(self, request: Request) -> Response:
        return Response({"message": f"Hello {request.user.get_username()}, you have accessed a protected route!"})


class PublicView(AuthgateAPIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["examples"], responses={200: inline_serializer("Public", {"ok": serializers.BooleanField()})})
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class HealthSerializer(serializers.Serializer[dict[str, str]]):
    status = serializers.CharField()
    database = serializers.CharField()
    redis = serializers.CharField()


@extend_schema(tags=["service"])
class HealthView(AuthgatePublicView):
    """Liveness and dependencies: 503 when the database is down; "degraded" (still 200)
    when Redis is configured but unreachable, since the database then answers alone."""

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = "ok"
        except Exception:  # noqa: BLE001 — any failure means "down" here
            database = "down"
        redis = get_store().health()
        healthy = database == "ok" and redis != "down"
        body = {"status": "ok" if healthy else "degraded", "database": database, "redis": redis}
        return Response(body, status=status.HTTP_200_OK if database == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE)
