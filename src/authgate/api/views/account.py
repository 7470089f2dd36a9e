"""
The signed-in user's own account: profile and email change, deletion, password change, the
list of their sessions (devices) and their activity trail.
"""

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework import generics, permissions, status
from rest_framework import serializers as drf_serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from ... import activity, mail, notifications, recovery, sessions
from ...factors import reauth
from ...models import Activity
from ...conf import api_settings
from ...net import remember_request, user_of
from ...throttling import MailThrottle
from .. import cookies, serializers
from ..schema import OpenApiResponse, extend_schema
from .base import ERRORS, AuthgateAPIView, _current_session_id, _validated
from .steps import _check_current_password


@extend_schema(tags=["account"])
class MeView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: api_settings.USER_SERIALIZER, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        return Response(api_settings.USER_SERIALIZER(user_of(request), context={"request": request}).data)

    @extend_schema(
        request=serializers.EmailChangeSerializer,
        responses={
            200: serializers.UserSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            429: serializers.ErrorSerializer,
        },
        description="Ask to change the email address (the current password is required). The "
        "new address is pending (`pending_email`) until the link mailed to it is used: only then "
        "does it become the account's email and a login name. A newer request replaces it.",
    )
    def patch(self, request: Request) -> Response:
        data = _validated(serializers.EmailChangeSerializer, request)
        reauth.require_recent(request)
        _check_current_password(request, data["password"])
        user = user_of(request)
        if data["email"] == recovery.email_of(user):
            recovery.cancel_email_change(user)  # back to the current address: nothing to prove
        else:
            # Counted before anything is parked: an account must not become a way to flood an inbox.
            MailThrottle(request, data["email"], mail.VERIFY_EMAIL).check()
            recovery.request_email_change(user, data["email"])
            mail.outbox.send([mail.pending_email_mail(request, user)])
        return Response(serializers.UserSerializer(user).data)

    @extend_schema(
        request=serializers.AccountDeleteSerializer,
        responses={204: None, 400: ERRORS[400], 401: ERRORS[401], 429: serializers.ErrorSerializer},
        description="Delete the account (the current password is required): every session "
        "ends and every static token is deleted.",
    )
    def delete(self, request: Request) -> Response:
        data = _validated(serializers.AccountDeleteSerializer, request)
        reauth.require_recent(request)
        _check_current_password(request, data["password"])
        recovery.delete_account(user_of(request), request=request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if cookies.has_auth_cookies(request):
            cookies.clear_auth_cookies(response)
        return response


@extend_schema(tags=["account"])
class PasswordChangeView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=serializers.PasswordChangeSerializer,
        responses={
            200: serializers.SessionsEndedSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            429: serializers.ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        reauth.require_recent(request)
        serializer = serializers.PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        # A wrong old password is a failed login: otherwise a stolen access token would
        # allow unthrottled guessing of the password here.
        _check_current_password(
            request,
            serializer.validated_data["old_password"],
            field="old_password",
            message=_("Your old password was entered incorrectly."),
        )
        data = serializer.validated_data
        user = user_of(request)
        user.set_password(data["new_password"])
        remember_request(user, request)  # the password-changed notice names this device
        user.save(update_fields=["password"])
        activity.record(Activity.PASSWORD_CHANGED, user=user, request=request, session_id=_current_session_id(request))
        ended = sessions.end_user_sessions(
            user, sessions.PASSWORD_CHANGED, keep_session_id=_current_session_id(request)
        )
        return Response(
            {"detail": _("Password changed. Your other sessions were signed out."), "sessions_ended": ended}
        )


@extend_schema(tags=["account"])
class SessionListView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: serializers.SessionSerializer(many=True), 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        rows = sessions.active_sessions(user_of(request)).order_by("-last_used_at")
        context = {"current_session_id": _current_session_id(request)}
        return Response(serializers.SessionSerializer(rows, many=True, context=context).data)


@extend_schema(tags=["account"])
class SessionDetailView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None, 401: ERRORS[401], 404: serializers.ErrorSerializer})
    def delete(self, request: Request, session_id: UUID) -> Response:
        session = get_object_or_404(sessions.active_sessions(user_of(request)), pk=session_id)
        sessions.end_session_by_id(session.pk.hex)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationPreferencesSerializer(drf_serializers.Serializer[dict[str, bool]]):
    new_device = drf_serializers.BooleanField(
        required=False, help_text="Mail on a sign-in from a device not seen on this account before."
    )


@extend_schema(tags=["account"])
class NotificationPreferencesView(AuthgateAPIView):
    """Which optional security mails the user gets. Only the new-device mail can be turned
    off; password and email changes, refresh-token reuse and second factors always mail."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: NotificationPreferencesSerializer, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        return Response(notifications.preferences(user_of(request)))

    @extend_schema(
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def patch(self, request: Request) -> Response:
        data = _validated(NotificationPreferencesSerializer, request)
        return Response(notifications.set_preferences(user_of(request), **data))


class ActivityPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(tags=["account"])
class ActivityView(AuthgateAPIView, generics.ListAPIView[Activity]):
    """The user's own security events (logins, failed ones, sessions ended...), newest first."""

    permission_classes = [permissions.IsAuthenticated]
    pagination_class = ActivityPagination
    serializer_class = serializers.ActivitySerializer

    def get_queryset(self) -> QuerySet[Activity]:
        return activity.recent_for(user_of(self.request))

    @extend_schema(
        responses={
            200: serializers.ActivitySerializer(many=True),
            401: ERRORS[401],
            404: OpenApiResponse(serializers.ErrorSerializer, description="No such page."),
        }
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
