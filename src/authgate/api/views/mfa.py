"""
The second-factor endpoints: `mfa/` (what is on), TOTP set-up / confirmation / removal,
new recovery codes, `mfa/verify/` (the second step of every login) and `reauthenticate/`.

Thin views: proofs are checked by the provider registry (`registry.verify`, through
`gate.check_second_factor`, which counts them with the account's login throttle), events
go through `events`, sessions are opened by the same `login_response()` as `login/`, so
`mfa/verify/` answers exactly what login would have.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from ... import recovery, sessions
from ...conf import api_settings
from ...errors import InvalidCode, InvalidCredentials, MFATokenInvalid, ReauthenticationRequired
from ...factors import events, gate, pending, reauth, registry
from ...mfa import recovery_codes, totp
from ...mfa import serializers as mfa_serializers
from ...net import user_of
from ...throttling import LoginThrottle
from ..schema import extend_schema
from ..serializers import ErrorSerializer, LoginResponseSerializer
from .base import ERRORS, AuthgateAPIView, PublicView
from .steps import login_response

ERROR = ErrorSerializer


class AlreadyEnabled(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("An authenticator app is already on for this account. Turn it off first to replace it.")
    default_code = "already_enabled"


class SetupNotStarted(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Start the authenticator app set-up first.")
    default_code = "setup_not_started"


def _validated(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _session_id(request: Request) -> str | None:
    return getattr(request.auth, "session_id", None)


@extend_schema(tags=["second factors"])
class MFAView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: mfa_serializers.MFAStateSerializer, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "methods": mfa_serializers.MethodSerializer.many_init(registry.methods(user_of(request))).data,
                "recovery_codes_remaining": recovery_codes.remaining(user_of(request)),
            }
        )


def _issuer(request: Request) -> str:
    return str(api_settings.TOTP_ISSUER or request.get_host().rsplit(":", 1)[0])


@extend_schema(tags=["second factors"])
class TOTPView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: mfa_serializers.TOTPSetupSerializer, 401: ERRORS[401], 409: ERROR})
    def post(self, request: Request) -> Response:
        """Start the set-up: a new secret, its otpauth:// URI and a QR code of it. Nothing is on yet."""
        if totp.confirmed_device(user_of(request)) is not None:
            raise AlreadyEnabled()
        _device, secret = totp.start_setup(user_of(request))
        user = user_of(request)
        account = recovery.email_of(user) or user.get_username()
        url = totp.provisioning_uri(secret, account, _issuer(request))
        return Response({"secret": secret, "otpauth_url": url, "qr_svg": totp.qr_svg(url)})

    @extend_schema(responses={204: None, 401: ERRORS[401], 403: ERROR, 404: ERROR})
    def delete(self, request: Request) -> Response:
        """Turn the authenticator app off (needs a recent second-factor proof)."""
        if totp.confirmed_device(user_of(request)) is None:
            raise NotFound(_("No authenticator app is on for this account."))
        reauth.require_recent(request, factor_only=True)
        _remove(request, "totp")
        return Response(status=status.HTTP_204_NO_CONTENT)


def _remove(request: Request, factor: str) -> None:
    """Remove one factor kind of the user; with no factor left, the recovery codes go too."""
    user = user_of(request)
    with transaction.atomic():
        provider = registry.get(factor)
        if provider is not None:
            provider.remove_all(user)
        if not registry.has_factor(user):
            recovery_codes.remove(user)
    events.removed(user, request, factor)


@extend_schema(tags=["second factors"])
class TOTPConfirmView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=mfa_serializers.CodeSerializer,
        responses={200: mfa_serializers.RecoveryCodesSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: Request) -> Response:
        """Turn the authenticator app on with a first code; answers ten recovery codes, shown this once."""
        code = _validated(mfa_serializers.CodeSerializer, request)["code"]
        device = totp.pending_device(user_of(request))
        if device is None:
            raise SetupNotStarted()
        if not totp.confirm(device, code):
            raise InvalidCode(status_code=status.HTTP_400_BAD_REQUEST)
        codes = recovery_codes.issue(user_of(request))
        if _session_id(request):  # turning a factor on proves it for this session
            sessions.record_authentication(str(_session_id(request)), ["otp"])
        events.added(user_of(request), request, "totp")
        return Response({"recovery_codes": codes})


@extend_schema(tags=["second factors"])
class RecoveryCodesView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: mfa_serializers.RecoveryCodesSerializer, 401: ERRORS[401], 403: ERROR, 404: ERROR},
    )
    def post(self, request: Request) -> Response:
        """A new set of recovery codes; the old set stops working (needs a recent second-factor proof)."""
        if not registry.has_factor(user_of(request)):
            raise NotFound(_("Turn on a second factor first."))
        reauth.require_recent(request, factor_only=True)
        codes = recovery_codes.issue(user_of(request))
        events.codes_regenerated(user_of(request), request)
        return Response({"recovery_codes": codes})


@extend_schema(tags=["auth"])
class MFAVerifyView(PublicView):
    @extend_schema(
        request=mfa_serializers.MFAVerifySerializer,
        responses={200: LoginResponseSerializer, 400: ERRORS[400], 401: ERRORS[401], 429: ERROR},
        description="The second step of a login: `{mfa_token, code}` or `{mfa_token, credential}`. "
        "Answers what `login/` would have answered (the pair, or the cookies).",
    )
    def post(self, request: Request) -> Response:
        data = _validated(mfa_serializers.MFAVerifySerializer, request)
        token = data["mfa_token"]
        try:
            row = pending.find(token)
        except pending.PendingLoginInvalid:
            raise MFATokenInvalid() from None
        user = row.user
        throttle = LoginThrottle(request, user.get_username(), user=user)
        throttle.reserve()  # before anything is checked: concurrent guesses count exactly
        try:
            pending.reserve_attempt(row, token)
        except pending.PendingLoginInvalid:
            throttle.cancel()
            raise MFATokenInvalid() from None
        try:
            amr, provider = registry.verify(user, request._request, data)
        except registry.InvalidProof as error:
            throttle.failed()
            events.failed(user, request._request, error.reason)
            raise InvalidCode(error.detail) from None
        try:
            pending.spend(row)
        except pending.PendingLoginInvalid:
            throttle.cancel()
            raise MFATokenInvalid() from None
        throttle.succeeded()
        events.used(user, request._request, provider.type)
        return login_response(request, user, device=row.device, cookies=row.cookies, amr=[row.first_factor, amr])


@extend_schema(tags=["second factors"])
class ReauthenticateView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=mfa_serializers.ReauthenticateSerializer,
        responses={200: mfa_serializers.ReauthenticatedSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERROR},
    )
    def post(self, request: Request) -> Response:
        """Renew this session's recent authentication: `{code}` or `{credential}` (a second
        factor), or `{password}` for an account without one."""
        data = _validated(mfa_serializers.ReauthenticateSerializer, request)
        session_id = _session_id(request)
        if not session_id:
            raise ReauthenticationRequired(detail=_("Sign in to re-authenticate: a static token cannot."))
        user = user_of(request)
        if "password" in data and not ("code" in data or "credential" in data):
            if registry.has_factor(user):  # a password alone proves no second factor
                raise ReauthenticationRequired(
                    {"methods": [p.type for p in registry.enabled_providers(user)]},
                    detail=_("This account has a second factor: re-authenticate with it."),
                )
            _check_password(request, data["password"])
            amr = "pwd"
        else:
            if not registry.has_factor(user):
                raise InvalidCode(_("This account has no second factor: re-authenticate with your password."))
            amr = gate.check_second_factor(user, request, data)
        auth_time, values = sessions.record_authentication(str(session_id), [amr])
        events.reauthenticated(user, request, values)
        return Response({"auth_time": int(auth_time.timestamp()), "amr": values})


def _check_password(request: Request, password: str) -> None:
    user = user_of(request)
    throttle = LoginThrottle(request, user.get_username(), user=user)
    throttle.reserve()
    if not user.check_password(password):
        throttle.failed()
        raise InvalidCredentials()
    throttle.succeeded()
