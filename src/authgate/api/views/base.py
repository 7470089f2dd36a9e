"""
The base of every authgate API view, and the small helpers all of them use.

`AuthgateAPIView`'s invariants: 401 answers always carry `WWW-Authenticate: Bearer`; bodies
are JSON parsed without a 500 on hostile nesting; the error contract ({"detail", "code"},
token errors with their "reason") holds whatever the project's EXCEPTION_HANDLER says; never
wrapped in the request's transaction; a write that fails because the request's user was
deleted meanwhile answers 401 (revoked), never 500; other processes are told of every
session or user the request changed, and waited for, once, at its end (one fence per
request).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.contrib.auth import user_logged_in, user_logged_out
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.http import HttpRequest, HttpResponseBase
from rest_framework import permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from ... import notifications
from ...errors import (
    InvalidToken,
    TokenRevoked,
    exception_handler,
)
from ...revocation import get_store
from ...security import JSONParser
from ...sessions import AccessContext
from .. import cookies, serializers
from ...tokens import TokenError
from ...types import User
from ..schema import OpenApiResponse

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView

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

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        # authgate's endpoints keep their error contract ({"detail", "code"}, token errors
        # with their "reason") whatever the project's EXCEPTION_HANDLER says.
        return exception_handler

    @classmethod
    def as_view(cls, **initkwargs: Any) -> "AsView[GenericView]":
        view = super().as_view(**initkwargs)
        for alias in django_settings.DATABASES:
            view = transaction.non_atomic_requests(using=alias)(view)
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # However many sessions and users the request changes, other processes are told,
        # and waited for, once, at the end (one fence per request).
        with get_store().one_fence():
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if _user_deleted_meanwhile(self.request, exc):
            exc = TokenRevoked()
        # DRF's exception handler marks every open atomic block for rollback (set_rollback),
        # meant for the request's own transaction, which these views do not have: a block
        # open around the view (a test's, a caller's) keeps its state.
        before = {alias: transaction.get_rollback(alias) for alias in _open_atomic_blocks()}
        try:
            return super().handle_exception(exc)
        finally:
            for alias, rollback in before.items():
                transaction.set_rollback(rollback, alias)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 401 and not response.has_header("WWW-Authenticate"):
            # DRF adds the header to its own authentication errors only; a wrong second
            # factor or a dead mfa_token is a 401 too, and says how to authenticate.
            response["WWW-Authenticate"] = self.get_authenticate_header(request)
        # A sign-in from a browser without a device cookie gave it one (new-device notices).
        notifications.set_device_cookie(request._request, response)
        return response


def _user_deleted_meanwhile(request: Request, exc: Exception) -> bool:
    """Whether a write failed because the request's user was deleted while it ran (a row
    naming them, a save of theirs that found no row). Such a request is answered as one
    that came after the deletion: its token's session went with the user (401, revoked).
    Any other database error stays what it is."""
    if not isinstance(exc, DatabaseError) or isinstance(exc, (OperationalError, InterfaceError)):
        return False
    user = getattr(request, "_user", None)
    if user is None or getattr(user, "pk", None) is None:
        return False
    try:
        return not type(user)._default_manager.filter(pk=user.pk).exists()
    except DatabaseError:  # a transaction around the view is broken: nothing can be read
        return False


def _open_atomic_blocks() -> list[str]:
    return [conn.alias for conn in connections.all(initialized_only=True) if conn.in_atomic_block]


class PublicView(AuthgateAPIView):
    """No authentication: a stale Authorization header must not block login or refresh."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[type[BasePermission]] = [permissions.AllowAny]


def _validated(serializer_class: type[BaseSerializer[Any]], request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def _token_error(error: TokenError) -> InvalidToken:
    return InvalidToken(error.reason or "malformed", error.message)


def _failure_clearing_cookies(view: APIView, exc: Exception) -> Response:
    """The error response for `exc`, also clearing the auth cookies: the browser cannot
    delete HttpOnly cookies itself, and cookies that can no longer work are only noise."""
    response = view.handle_exception(exc)
    cookies.clear_auth_cookies(response)
    return response


def _current_session_id(request: Request) -> str | None:
    return request.auth.session_id if isinstance(request.auth, AccessContext) else None


# Django's auth signals, sent as django.contrib.auth's login()/logout() send them, so that
# its own `update_last_login` receiver keeps `last_login`, and audit apps hear of logins.
# (A failed login is reported by django.contrib.auth.authenticate() itself.)
def _logged_in(request: Request, user: User) -> None:
    user_logged_in.send(sender=user.__class__, request=request._request, user=user)


def _logged_out(request: Request, user: User) -> None:
    user_logged_out.send(sender=user.__class__, request=request._request, user=user)
