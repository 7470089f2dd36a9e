"""
Sign-in and sign-out: register, login, refresh, verify, logout, logout everywhere. Thin
views over the session lifecycle (`authgate.sessions`): no view decides what a token means
or how a session ends.
"""

from typing import cast

from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework import permissions, status
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response

from ... import sessions, simplejwt_migration, static_tokens
from ...errors import RefreshRequired, TokenNotValidRequest
from ...account import gate as password_gate
from ...factors import gate
from ...models import StaticToken
from ...conf import api_settings
from ...net import user_of
from ...sessions import AccessContext
from ...tokens import TokenError, TokenPair
from .. import cookies, serializers
from ..schema import extend_schema, inline_serializer
from .base import ERRORS, AuthgateAPIView, PublicView, _failure_clearing_cookies, _logged_out, _token_error, _validated
from .steps import (
    _check_password_login,
    _count_refused_refresh,
    _send_verification_mail,
    login_response,
    refresh_credential,
)


@extend_schema(tags=["auth"])
class RegisterView(PublicView):
    @extend_schema(
        request=api_settings.REGISTER_SERIALIZER,
        responses={201: serializers.RegisteredUserSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = api_settings.REGISTER_SERIALIZER(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        _send_verification_mail(request, user, quietly_throttled=True)
        return Response(serializers.RegisteredUserSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["auth"])
class LoginView(PublicView):
    @extend_schema(
        request=api_settings.LOGIN_SERIALIZER,
        responses={
            200: serializers.LoginResponseSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            403: serializers.ErrorSerializer,
            429: serializers.ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(api_settings.LOGIN_SERIALIZER, request)
        user = _check_password_login(request, data["username"], data["password"], settle_later=True)
        try:  # the gate's reset of the counts commits with the session (login_response)
            gate.require_second_factor(user, request._request, cookies=data["cookies"], device=data.get("device", ""))
            return login_response(request, user, device=data.get("device", ""), cookies=data["cookies"])
        finally:
            password_gate.settle(request)


@extend_schema(tags=["auth"])
class RefreshView(PublicView):
    @extend_schema(
        request=serializers.RefreshSerializer,
        responses={200: serializers.TokenPairSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.RefreshSerializer, request)
        raw, from_cookie = refresh_credential(request, data.get("refresh"))
        if not raw:
            raise drf_serializers.ValidationError({"refresh": [_("This field is required.")]})
        try:
            pair = sessions.rotate(raw)
        except TokenError as error:
            if not from_cookie and simplejwt_migration.is_active() and simplejwt_migration.looks_like_simplejwt(raw):
                pair = self.exchange_simplejwt(request, raw)
            else:
                _count_refused_refresh(request, error)
                if from_cookie:
                    return _failure_clearing_cookies(self, _token_error(error))
                raise _token_error(error) from None
        if from_cookie:
            response = Response({"detail": _("Token refreshed.")})
            cookies.set_auth_cookies(response, pair)
            return response
        return Response(pair.as_dict())

    def exchange_simplejwt(self, request: Request, raw: str) -> TokenPair:
        """A simplejwt refresh token, while the migration is on: its one exchange."""
        try:
            _session, pair = simplejwt_migration.exchange(raw, request=request._request)
        except TokenError as error:
            _count_refused_refresh(request, error)
            raise _token_error(error) from None
        return pair


@extend_schema(tags=["auth"])
class VerifyView(PublicView):
    @extend_schema(
        request=serializers.VerifySerializer,
        responses={200: inline_serializer("Empty", {}), 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.VerifySerializer, request)
        try:
            sessions.verify(data["token"])
        except TokenError as error:
            raise _token_error(error) from None
        return Response({})


@extend_schema(tags=["auth"])
class LogoutView(AuthgateAPIView):
    """Ends the session of whichever credential came: refresh token in the body, the
    Authorization header (Bearer access or static Token), or the auth cookies."""

    permission_classes = [permissions.AllowAny]

    def perform_authentication(self, request: Request) -> None:
        pass  # lazily: a refresh token in the body must win over a stale header

    @extend_schema(
        request=serializers.LogoutSerializer,
        responses={200: serializers.DetailSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.LogoutSerializer, request)
        raw_refresh, used_cookies = refresh_credential(
            request, data.get("refresh") or data.get("refresh_token"), header_wins=True
        )
        if raw_refresh:
            try:
                ended = sessions.end_session_for_refresh(raw_refresh)
            except TokenError:
                if used_cookies:
                    return _failure_clearing_cookies(self, TokenNotValidRequest())
                raise TokenNotValidRequest() from None
            user = ended.user
        elif request.user and request.user.is_authenticated:
            user = request.user
            used_cookies = "HTTP_AUTHORIZATION" not in request.META
            if isinstance(request.auth, StaticToken):
                static_tokens.revoke(request.auth, request=request)
            else:  # the one other credential: an access token (JWTSessionAuthentication's context)
                sessions.end_session_by_id(cast(AccessContext, request.auth).session_id)
        else:
            raise RefreshRequired()
        _logged_out(request, user)
        response = Response({"detail": _("Successfully logged out.")})
        if used_cookies or cookies.has_auth_cookies(request):
            cookies.clear_auth_cookies(response)
        return response


@extend_schema(tags=["auth"])
class LogoutAllView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: serializers.SessionsEndedSerializer, 401: ERRORS[401]})
    def post(self, request: Request) -> Response:
        user = user_of(request)
        ended = sessions.end_user_sessions(user, sessions.LOGOUT_ALL)
        _logged_out(request, user)
        response = Response({"detail": _("Successfully logged out of all sessions."), "sessions_ended": ended})
        if cookies.has_auth_cookies(request):
            cookies.clear_auth_cookies(response)
        return response
