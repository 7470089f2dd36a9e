"""
Staff-only endpoints: end every session (and optionally delete every static token), end one
user's sessions.
"""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework import permissions
from rest_framework.response import Response

from ... import sessions, static_tokens
from .. import serializers
from ..schema import extend_schema
from .base import ERRORS, AuthgateAPIView, _validated


@extend_schema(tags=["admin"])
class InvalidateAllView(AuthgateAPIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        request=serializers.InvalidateAllSerializer,
        responses={
            200: serializers.SessionsEndedSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            403: serializers.ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.InvalidateAllSerializer, request)
        ended = sessions.end_all_sessions()
        body = {"detail": "All user sessions invalidated successfully", "sessions_ended": ended}
        if data["include_static_tokens"]:
            body["static_tokens_deleted"] = static_tokens.delete_all()
        return Response(body)


@extend_schema(tags=["admin"])
class AdminUserLogoutView(AuthgateAPIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        request=None,
        responses={
            200: serializers.SessionsEndedSerializer,
            401: ERRORS[401],
            403: serializers.ErrorSerializer,
            404: serializers.ErrorSerializer,
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=user_id)
        ended = sessions.end_user_sessions(user, sessions.ADMIN)
        return Response(
            {
                "detail": _("All sessions of %(username)s ended.") % {"username": user.get_username()},
                "sessions_ended": ended,
            }
        )
