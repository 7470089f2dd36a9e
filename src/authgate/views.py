"""
The HTTP API: thin DRF views over the session lifecycle (`sessions`), the
static tokens (`static_tokens`) and the cookie helpers. No view decides what a token
means or how a session ends; each one validates input, calls the lifecycle, shapes output.
"""

from django.conf import settings as django_settings
from django.db import connections, transaction
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.middleware.csrf import rotate_token
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, permissions, serializers as drf_serializers, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, Throttled
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from .account import gate as password_gate
from . import (
    activity,
    cookies,
    mail,
    metrics,
    notifications,
    recovery,
    serializers,
    sessions,
    simplejwt_migration,
    static_tokens,
)
from . import cookies as cookies_module
from .mfa import gate, providers, reauth
from .openapi import OpenApiResponse, extend_schema, inline_serializer
from .authentication import enforce_csrf
from .exceptions import (
    exception_handler,
    InvalidCredentials,
    InvalidToken,
    MFARequired,
    RefreshRequired,
    TokenNotValidRequest,
)
from .models import Activity, StaticToken
from .revocation import get_store
from .security import JSONParser
from .settings import api_settings
from .sessions import AccessContext
from .net import client_ip
from .throttling import MailThrottle
from .tokens import TokenError

ERRORS = {
    400: OpenApiResponse(description="Validation error: DRF's {field: [messages]} or {detail, code}."),
    401: OpenApiResponse(serializers.ErrorSerializer, description="Not authenticated or token not valid."),
}


class AuthgateAPIView(APIView):
    """Base view: 401 answers always carry `WWW-Authenticate: Bearer`, even on views
    that take their token from the body (DRF would otherwise turn them into 403).
    Bodies are JSON, parsed without a 500 on hostile nesting.

    Never wrapped in the request's transaction (a project's ATOMIC_REQUESTS): what the
    session lifecycle writes must stand even when the answer is an error — the session
    that reuse detection ends, the failed login in the activity trail. It commits its
    own writes, atomically where they belong together."""

    parser_classes = [JSONParser]

    def get_exception_handler(self):
        # authgate's endpoints keep their error contract ({"detail", "code"}, token errors
        # with their "reason") whatever the project's EXCEPTION_HANDLER says.
        return exception_handler

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view._non_atomic_requests = set(django_settings.DATABASES)  # what non_atomic_requests() sets
        return view

    def dispatch(self, request, *args, **kwargs):
        # However many sessions and users the request changes, other processes are told,
        # and waited for, once, at the end (one fence per request).
        with get_store().one_fence():
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        # DRF's exception handler marks every open atomic block for rollback (set_rollback),
        # meant for the request's own transaction, which these views do not have: a block
        # open around the view (a test's, a caller's) keeps its state.
        before = {alias: transaction.get_rollback(alias) for alias in _open_atomic_blocks()}
        try:
            return super().handle_exception(exc)
        finally:
            for alias, rollback in before.items():
                transaction.set_rollback(rollback, alias)

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A sign-in from a browser without a device cookie gave it one (new-device notices).
        notifications.set_device_cookie(request._request, response)
        return response


def _open_atomic_blocks():
    return [conn.alias for conn in connections.all(initialized_only=True) if conn.in_atomic_block]


class PublicView(AuthgateAPIView):
    """No authentication: a stale Authorization header must not block login or refresh."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]


def _validated(serializer_class, request, **kwargs):
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _token_error(error):
    return InvalidToken(error.reason, error.message)


def _failure_clearing_cookies(view, exc):
    """The error response for `exc`, also clearing the auth cookies: the browser cannot
    delete HttpOnly cookies itself, and cookies that can no longer work are only noise."""
    response = view.handle_exception(exc)
    cookies.clear_auth_cookies(response)
    return response


def _current_session_id(request):
    return request.auth.session_id if isinstance(request.auth, AccessContext) else None


# Django's auth signals, sent as django.contrib.auth's login()/logout() send them, so that
# its own `update_last_login` receiver keeps `last_login`, and audit apps hear of logins.
# (A failed login is reported by django.contrib.auth.authenticate() itself.)
def _logged_in(request, user):
    user_logged_in.send(sender=user.__class__, request=request._request, user=user)


def _logged_out(request, user):
    user_logged_out.send(sender=user.__class__, request=request._request, user=user)


@extend_schema(tags=["auth"])
class RegisterView(PublicView):
    @extend_schema(
        request=api_settings.REGISTER_SERIALIZER,
        responses={201: serializers.RegisteredUserSerializer, 400: ERRORS[400]},
    )
    def post(self, request):
        serializer = api_settings.REGISTER_SERIALIZER(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        _send_verification_mail(request, user, quietly_throttled=True)
        return Response(serializers.RegisteredUserSerializer(user).data, status=status.HTTP_201_CREATED)


def _check_password_login(request, username, password):
    """The user for a username/email + password: the password gate, then the login rules."""
    try:
        return password_gate.password_login(request, username, password)
    except password_gate.PasswordThrottled as refused:
        raise refused.as_api_error() from None
    except password_gate.WrongPassword:
        raise InvalidCredentials() from None


def _check_current_password(request, password, field="password", message=None):
    """Steps that need the current password (email change, deletion, password change) go
    through the password gate: a stolen access token gives no unthrottled way to guess it."""
    try:
        password_gate.check_password(request, request.user.get_username(), password, user=request.user)
    except password_gate.PasswordThrottled as refused:
        raise refused.as_api_error() from None
    except password_gate.WrongPassword:
        message = message or _("Your password was entered incorrectly.")
        raise drf_serializers.ValidationError({field: [message]}) from None


def _mail_allowed(request, address, kind, quietly):
    """Count a mail to `address` with the mail throttle. Over the limit: 429, or False
    when `quietly` (a mail that is a side effect of something else that must go on)."""
    try:
        MailThrottle(request, address, kind).check()
    except Throttled:
        if not quietly:
            raise
        return False
    return True


def _send_verification_mail(request, user, quietly_throttled=False):
    """Mail a verification link to the user's address (counted by the mail throttle)."""
    if _mail_allowed(request, recovery.email_of(user), mail.VERIFY_EMAIL, quietly_throttled):
        mail.outbox.send([mail.verification_mail(request, user)])


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
    def post(self, request):
        data = _validated(api_settings.LOGIN_SERIALIZER, request)
        user = _check_password_login(request, data["username"], data["password"])
        gate.require_second_factor(user, request._request, cookies=data["cookies"], device=data.get("device", ""))
        return login_response(request, user, device=data.get("device", ""), cookies=data["cookies"])


def login_response(request, user, *, device="", cookies=False, amr=("pwd",)):
    """Open a session for `user` (whose login was proven by `amr`) and answer as `login/`
    does: the pair in the body, or the auth cookies with `cookies`. `mfa/verify/` and
    passwordless logins answer through this too."""
    session, pair = sessions.open_session(
        user,
        device=device,
        ip=client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        request=request._request,
        amr=amr,
    )
    _logged_in(request, user)
    body = {
        "session_id": str(session.pk),
        "user": api_settings.USER_SERIALIZER(user, context={"request": request}).data,
    }
    if cookies:
        response = Response(body)
        cookies_module.set_auth_cookies(response, pair)
        # A fresh CSRF secret at login, as django.contrib.auth.login does (a token planted
        # before login is worthless after it); CsrfViewMiddleware sets the `csrftoken` cookie.
        rotate_token(request._request)
        return response
    return Response({**pair.as_dict(), **body})


def _count_refused_refresh(request, error):
    if isinstance(error, sessions.ReuseDetected):  # theft: who presented it, from where
        session = error.session
        activity.record(Activity.REFRESH_REUSE_DETECTED, user=session.user, request=request, session_id=session.pk)
    else:
        metrics.count_refresh("invalid")


@extend_schema(tags=["auth"])
class RefreshView(PublicView):
    @extend_schema(
        request=serializers.RefreshSerializer,
        responses={200: serializers.TokenPairSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request):
        data = _validated(serializers.RefreshSerializer, request)
        raw = data.get("refresh")
        from_cookie = not raw and cookies.refresh_cookie(request) is not None
        if from_cookie:
            enforce_csrf(request._request)
            raw = cookies.refresh_cookie(request)
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

    def exchange_simplejwt(self, request, raw):
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
    def post(self, request):
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

    def perform_authentication(self, request):
        pass  # lazily: a refresh token in the body must win over a stale header

    @extend_schema(
        request=serializers.LogoutSerializer,
        responses={200: serializers.DetailSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request):
        data = _validated(serializers.LogoutSerializer, request)
        raw_refresh = data.get("refresh") or data.get("refresh_token")
        used_cookies = False
        if not raw_refresh and "HTTP_AUTHORIZATION" not in request.META and cookies.refresh_cookie(request):
            enforce_csrf(request._request)
            raw_refresh, used_cookies = cookies.refresh_cookie(request), True
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
            else:
                sessions.end_session_by_id(request.auth.session_id)
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
    def post(self, request):
        ended = sessions.end_user_sessions(request.user, sessions.LOGOUT_ALL)
        _logged_out(request, request.user)
        response = Response({"detail": _("Successfully logged out of all sessions."), "sessions_ended": ended})
        if cookies.has_auth_cookies(request):
            cookies.clear_auth_cookies(response)
        return response


@extend_schema(tags=["account"])
class MeView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: api_settings.USER_SERIALIZER, 401: ERRORS[401]})
    def get(self, request):
        return Response(api_settings.USER_SERIALIZER(request.user, context={"request": request}).data)

    @extend_schema(
        request=serializers.EmailChangeSerializer,
        responses={
            200: serializers.UserSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            429: serializers.ErrorSerializer,
        },
        description="Change the email address (the current password is required). The new "
        "address is unverified until the link mailed to it is used.",
    )
    def patch(self, request):
        data = _validated(serializers.EmailChangeSerializer, request)
        reauth.require_recent(request)
        _check_current_password(request, data["password"])
        user = request.user
        if data["email"] != recovery.email_of(user):
            # Counted before the change: an account must not become a way to flood an inbox.
            MailThrottle(request, data["email"], mail.VERIFY_EMAIL).check()
            old_email = recovery.email_of(user)
            recovery.change_email(user, data["email"], request=request)
            messages = [mail.verification_mail(request, user)]
            # Counted too, quietly: switching back and forth must not flood the old inbox.
            if old_email and _mail_allowed(request, old_email, mail.EMAIL_CHANGED, quietly=True):
                messages.append(mail.email_changed_mail(request, user, old_email))
            mail.outbox.send(messages)
        return Response(serializers.UserSerializer(user).data)

    @extend_schema(
        request=serializers.AccountDeleteSerializer,
        responses={204: None, 400: ERRORS[400], 401: ERRORS[401], 429: serializers.ErrorSerializer},
        description="Delete the account (the current password is required): every session "
        "ends and every static token is deleted.",
    )
    def delete(self, request):
        data = _validated(serializers.AccountDeleteSerializer, request)
        reauth.require_recent(request)
        _check_current_password(request, data["password"])
        recovery.delete_account(request.user, request=request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if cookies.has_auth_cookies(request):
            cookies.clear_auth_cookies(response)
        return response


RESET_REQUESTED = _("If an active account has this email address, a link to reset its password is on its way.")


@extend_schema(tags=["account recovery"])
class PasswordResetView(PublicView):
    """Mails a reset link. The answer, and the time it takes, are the same whether or not
    an account has the address: the mail is composed either way and sent in the background."""

    @extend_schema(
        request=serializers.PasswordResetSerializer,
        responses={202: serializers.DetailSerializer, 400: ERRORS[400], 429: serializers.ErrorSerializer},
    )
    def post(self, request):
        email = _validated(serializers.PasswordResetSerializer, request)["email"]
        MailThrottle(request, email, mail.PASSWORD_RESET).check()
        users = recovery.users_for_reset(email)
        messages = [mail.password_reset_mail(request, user) for user in users]
        # For an address no account has, the same work: a mail composed and serialised, not sent.
        decoys = [] if users else [mail.password_reset_mail(request, recovery.stand_in_user(email))]
        mail.outbox.send(messages, decoys)
        return Response({"detail": RESET_REQUESTED}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["account recovery"])
class PasswordResetConfirmView(PublicView):
    @extend_schema(
        request=serializers.PasswordResetConfirmSerializer,
        responses={200: serializers.SessionsEndedSerializer, 400: ERRORS[400]},
        description="Set a new password from a reset link; every session of the user ends. "
        "A weak password is a field error and leaves the link usable; an invalid, "
        "expired or used link is 400 `invalid_link`.",
    )
    @extend_schema(
        parameters=[serializers.LinkSerializer],
        responses={
            200: inline_serializer(
                "ResetLinkAccount", {"username": drf_serializers.CharField(), "email": drf_serializers.CharField()}
            ),
            400: ERRORS[400],
        },
        description="Whose password a reset link would reset (for the page to name the account), "
        "without using the link; an invalid, expired or used link is 400 `invalid_link`.",
    )
    def get(self, request):
        link = serializers.LinkSerializer(data=request.query_params)
        link.is_valid(raise_exception=True)
        user = recovery.user_for_reset_link(link.validated_data["uid"], link.validated_data["token"])
        return Response({"username": user.get_username(), "email": recovery.email_of(user) or ""})

    def post(self, request):
        data = _validated(serializers.PasswordResetConfirmSerializer, request)
        user = recovery.user_for_reset_link(data["uid"], data["token"])
        serializers.validate_new_password(data["new_password"], user)
        ended = recovery.reset_password(user, data["new_password"], request=request)
        return Response(
            {"detail": _("Your password has been reset. Sign in with the new one."), "sessions_ended": ended}
        )


@extend_schema(tags=["account recovery"])
class EmailVerifyView(PublicView):
    @extend_schema(request=serializers.LinkSerializer, responses={200: serializers.DetailSerializer, 400: ERRORS[400]})
    def post(self, request):
        data = _validated(serializers.LinkSerializer, request)
        user = recovery.user_for_verification_link(data["uid"], data["token"])
        recovery.verify_email(user, request=request)
        return Response({"detail": _("Your email address is verified.")})


@extend_schema(tags=["account recovery"])
class EmailVerifyResendView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None, responses={202: serializers.DetailSerializer, 401: ERRORS[401], 429: serializers.ErrorSerializer}
    )
    def post(self, request):
        if recovery.is_email_verified(request.user):
            return Response({"detail": _("Your email address is already verified.")}, status=status.HTTP_202_ACCEPTED)
        _send_verification_mail(request, request.user)
        return Response({"detail": _("A new verification link is on its way.")}, status=status.HTTP_202_ACCEPTED)


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
    def post(self, request):
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
        user = request.user
        user.set_password(data["new_password"])
        user._authgate_request = request  # the password-changed notice names this device
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
    def get(self, request):
        rows = sessions.active_sessions(request.user).order_by("-last_used_at")
        context = {"current_session_id": _current_session_id(request)}
        return Response(serializers.SessionSerializer(rows, many=True, context=context).data)


@extend_schema(tags=["account"])
class SessionDetailView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None, 401: ERRORS[401], 404: serializers.ErrorSerializer})
    def delete(self, request, session_id):
        session = get_object_or_404(sessions.active_sessions(request.user), pk=session_id)
        sessions.end_session_by_id(session.pk.hex)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationPreferencesSerializer(drf_serializers.Serializer):
    new_device = drf_serializers.BooleanField(
        required=False, help_text="Mail on a sign-in from a device not seen on this account before."
    )


@extend_schema(tags=["account"])
class NotificationPreferencesView(AuthgateAPIView):
    """Which optional security mails the user gets. Only the new-device mail can be turned
    off; password and email changes, refresh-token reuse and second factors always mail."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: NotificationPreferencesSerializer, 401: ERRORS[401]})
    def get(self, request):
        return Response(notifications.preferences(request.user))

    @extend_schema(
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def patch(self, request):
        data = _validated(NotificationPreferencesSerializer, request)
        return Response(notifications.set_preferences(request.user, **data))


class ActivityPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(tags=["account"])
class ActivityView(AuthgateAPIView, generics.ListAPIView):
    """The user's own security events (logins, failed ones, sessions ended...), newest first."""

    permission_classes = [permissions.IsAuthenticated]
    pagination_class = ActivityPagination
    serializer_class = serializers.ActivitySerializer

    def get_queryset(self):
        return activity.recent_for(self.request.user)

    @extend_schema(
        responses={
            200: serializers.ActivitySerializer(many=True),
            401: ERRORS[401],
            404: OpenApiResponse(serializers.ErrorSerializer, description="No such page."),
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


STATIC_KEY_CANNOT_MINT = _("A static token cannot create static tokens: sign in, or send your username and password.")


@extend_schema(tags=["static tokens"])
class StaticTokenListView(AuthgateAPIView):
    permission_classes = [permissions.AllowAny]

    def perform_authentication(self, request):
        pass  # POST may authenticate with username/password instead

    @extend_schema(responses={200: serializers.StaticTokenSerializer(many=True), 401: ERRORS[401]})
    def get(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        return Response(serializers.StaticTokenSerializer(request.user.authgate_static_tokens.all(), many=True).data)

    @extend_schema(
        request=serializers.StaticTokenCreateSerializer,
        responses={
            201: serializers.StaticTokenCreatedSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            403: serializers.ErrorSerializer,
            429: serializers.ErrorSerializer,
        },
        description="Create a static token: with a session (Bearer or cookie) or with "
        "`{username, password}`; a static token cannot create another one (403).",
    )
    def post(self, request):
        data = _validated(serializers.StaticTokenCreateSerializer, request)
        if "username" in data:
            user = _check_password_login(request, data["username"], data["password"])
            has_factor = providers.has_factor_once(user)
            if has_factor and "code" in data:  # the second factor in the same request (scripts, CLIs)
                gate.check_second_factor(user, request, {"code": data["code"]})
            elif has_factor:
                raise MFARequired(
                    {"methods": [p.type for p in providers.enabled_providers(user)]},
                    detail=_(
                        "This account has a second factor: send `code` with the password, or create the token from a signed-in session."
                    ),
                )
        elif request.user.is_authenticated:
            if isinstance(request.auth, StaticToken):
                # A stolen key must not outlive its own revocation by minting others.
                raise PermissionDenied(STATIC_KEY_CANNOT_MINT)
            user = request.user
            reauth.require_recent(request)
        else:
            raise NotAuthenticated()
        token, key = static_tokens.create_token(
            user, name=data.get("name", ""), expires_in=data.get("expires_in"), request=request
        )
        if "username" in data:  # a password login that yields a static token instead of a session
            _logged_in(request, user)
        return Response(
            {"id": token.pk, "token": key, "name": token.name, "expires_at": token.expires_at},
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["static tokens"])
class StaticTokenDetailView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None, 401: ERRORS[401], 404: serializers.ErrorSerializer})
    def delete(self, request, token_id):
        token = get_object_or_404(StaticToken, pk=token_id, user=request.user)
        static_tokens.revoke(token, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
    def post(self, request):
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
    def post(self, request, user_id):
        user = get_object_or_404(get_user_model(), pk=user_id)
        ended = sessions.end_user_sessions(user, sessions.ADMIN)
        return Response(
            {
                "detail": _("All sessions of %(username)s ended.") % {"username": user.get_username()},
                "sessions_ended": ended,
            }
        )
