"""
Steps several views share, each written once: the password check of a login (throttled,
second factor aware), the current-password check of sensitive account steps, mails counted
by the mail throttle, the login answer (pair or cookies), the refresh credential of a
request (body, else the cookie with CSRF), and counting a refused refresh.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import router, transaction
from django.middleware.csrf import rotate_token
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from ... import activity, mail, metrics, recovery, sessions
from ...account import gate as password_gate
from ...errors import InvalidCredentials
from ...models import Activity, Session
from ...net import client_ip, user_of
from ...conf import api_settings
from ...throttling import MailThrottle
from ...tokens import TokenError
from ...types import User
from .. import cookies
from .. import cookies as cookies_module
from ..authentication import enforce_csrf
from .base import _logged_in

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


def _check_password_login(request: Request, username: str, password: str, *, settle_later: bool = False) -> User:
    """The user for a username/email + password: the password gate, then the login rules.
    `settle_later`: the counts' reset is left to `login_response()`'s transaction (the
    caller runs `password_gate.settle()` in a `finally` for a login that stops before it)."""
    try:
        return password_gate.password_login(request, username, password, settle_later=settle_later)
    except password_gate.PasswordThrottled as refused:
        raise refused.as_api_error() from None
    except password_gate.WrongPassword:
        raise InvalidCredentials() from None


def _check_current_password(
    request: Request, password: str, field: str = "password", message: "str | StrPromise | None" = None
) -> None:
    """Steps that need the current password (email change, deletion, password change) go
    through the password gate: a stolen access token gives no unthrottled way to guess it."""
    try:
        user = user_of(request)
        password_gate.check_password(request, user.get_username(), password, user=user)
    except password_gate.PasswordThrottled as refused:
        raise refused.as_api_error() from None
    except password_gate.WrongPassword:
        message = message or _("Your password was entered incorrectly.")
        raise drf_serializers.ValidationError({field: [message]}) from None


def _mail_allowed(request: Request, address: str, kind: str, quietly: bool) -> bool:
    """Count a mail to `address` with the mail throttle. Over the limit: 429, or False
    when `quietly` (a mail that is a side effect of something else that must go on)."""
    try:
        MailThrottle(request, address, kind).check()
    except Throttled:
        if not quietly:
            raise
        return False
    return True


def _send_verification_mail(request: Request, user: User, quietly_throttled: bool = False) -> None:
    """Mail a verification link to the user's address (counted by the mail throttle)."""
    if _mail_allowed(request, recovery.email_of(user), mail.VERIFY_EMAIL, quietly_throttled):
        mail.outbox.send([mail.verification_mail(request, user)])


def login_response(
    request: Request, user: User, *, device: str = "", cookies: bool = False, amr: Iterable[str] = ("pwd",)
) -> Response:
    """Open a session for `user` (whose login was proven by `amr`) and answer as `login/`
    does: the pair in the body, or the auth cookies with `cookies`. `mfa/verify/` and
    passwordless logins answer through this too.

    One transaction for what a login writes: the session row, its `login_succeeded`
    activity row, `last_login` (Django's `user_logged_in`), a device seen for the first
    time, and last the password gate's reset of the failed-login counts when the check
    left it waiting (last, so the address's counter row is locked only until the commit).
    It begins by holding the account's row: an account deleted or deactivated since its
    password was checked gets the answer an unknown one gets (401), and a deletion that
    comes later waits for this commit."""
    with transaction.atomic(using=router.db_for_write(Session), savepoint=False):
        if not _hold_the_account(user):
            raise InvalidCredentials()
        session, pair = sessions.open_session(
            user,
            device=device,
            ip=client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            request=request._request,
            amr=amr,
        )
        _logged_in(request, user)
        password_gate.settle(request)
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


def _hold_the_account(user: User) -> bool:
    """Inside a login's transaction: lock the account's row with the lock its `last_login`
    update takes anyway (PostgreSQL's FOR NO KEY UPDATE: logins of one account already
    queue on it, a deletion or deactivation waits for it), taken first; False when the row
    is gone or no longer active (changed while its password was being checked: a session
    opened now would outlive the deactivation and come back with a reactivation)."""
    model = type(user)
    rows = model._default_manager.select_for_update(no_key=True).filter(pk=user.pk)
    if any(field.name == "is_active" for field in model._meta.concrete_fields):
        rows = rows.filter(is_active=True)
    return rows.exists()


def _count_refused_refresh(request: Request, error: TokenError) -> None:
    if isinstance(error, sessions.ReuseDetected):  # theft: who presented it, from where
        session = error.session
        activity.record(Activity.REFRESH_REUSE_DETECTED, user=session.user, request=request, session_id=session.pk)
    else:
        metrics.count_refresh("invalid")


def refresh_credential(
    request: Request, body_value: str | None, *, header_wins: bool = False
) -> tuple[str | None, bool]:
    """(the refresh token a request presents, whether it came from the cookie): the body's
    if any, else the refresh cookie — which, sent by the browser on its own, must pass
    Django's CSRF check (403 otherwise). With `header_wins`, a request carrying an
    Authorization header does not fall back to the cookie (logout: the header names the
    credential to end). Shared by refresh and logout, so both read cookies the same way."""
    if body_value:
        return body_value, False
    if header_wins and "HTTP_AUTHORIZATION" in request.META:
        return None, False
    raw = cookies.refresh_cookie(request)
    if raw is None:
        return None, False
    enforce_csrf(request._request)
    return raw, True
