"""The two DRF routes the bench asks every server for: a protected GET (allauth's JWT
authentication class) and a public one (no authentication at all)."""

from allauth.headless.contrib.rest_framework.authentication import JWTTokenAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
@authentication_classes([JWTTokenAuthentication])
@permission_classes([IsAuthenticated])
def protected(request: Request) -> Response:
    return Response({"message": f"Hello {request.user.username}, you have accessed a protected route!"})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def public(request: Request) -> Response:
    return Response({"ok": True})
