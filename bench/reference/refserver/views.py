from rest_framework.decorators import api_view, permission_classes, authentication_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def protected(request):
    return Response({"message": f"Hello {request.user.username}, you have accessed a protected route!"})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def public(request):
    return Response({"ok": True})
