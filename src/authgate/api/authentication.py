"""
DRF authentication classes.

- `JWTSessionAuthentication`: `Authorization: Bearer <access>`, or the access cookie in
  cookie mode (a header wins). Cookie-authenticated unsafe requests must pass
  Django's CSRF check, as DRF's SessionAuthentication does.
- `StaticTokenAuthentication`: `Authorization: Token <key>`.

Both can sit side by side in DEFAULT_AUTHENTICATION_CLASSES; put the JWT class first so
401 answers carry `WWW-Authenticate: Bearer`.
"""

from time import perf_counter
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .. import access, metrics, static_tokens
from ..access import authorization_parts
from ..errors import InvalidToken, TokenMalformed
from ..models import StaticToken
from ..sessions import AccessContext
from ..conf import api_settings


def _authorization_parts(request: "Request | HttpRequest") -> tuple[str | None, str | None]:
    return authorization_parts(request.META.get("HTTP_AUTHORIZATION", ""))


def _as_drf(failure: access.AuthenticationFailed) -> exceptions.APIException:
    """The DRF exception giving the same answer as `failure`."""
    if isinstance(failure, access.CSRFFailed):
        return exceptions.PermissionDenied(failure.message)
    if isinstance(failure, access.NotAuthenticated):
        return exceptions.NotAuthenticated(failure.message)
    return InvalidToken(failure.reason or "malformed", failure.message)


def enforce_csrf(request: HttpRequest) -> None:
    """Django's CSRF check for a cookie-authenticated request (403 on failure)."""
    try:
        access.enforce_csrf(request)
    except access.AuthenticationFailed as failure:
        raise _as_drf(failure) from None


class JWTSessionAuthentication(authentication.BaseAuthentication):
    """Bearer header or access cookie: the framework-independent `access.authenticate_request`,
    answered the DRF way.

    As simplejwt's class, each step is a method a subclass may override: `get_header`,
    `get_raw_token`, `get_validated_token`, `get_user` (`access.Hooks`). A step refuses by
    raising `access.AuthenticationFailed` (or any DRF exception)."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[Any, AccessContext] | None:
        django_request = request._request if hasattr(request, "_request") else request
        try:
            result = access.authenticate_request(django_request, self)
        except access.AuthenticationFailed as failure:
            raise _as_drf(failure) from None
        return None if result is None else (result.user, result.auth)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'

    # -- the hooks: `access`'s own functions, so the defaults cost no extra call; a
    # subclass overrides any of them as a method (and may call `super()`).
    get_header = staticmethod(access.get_header)  # the Authorization value, or None: the cookie then
    get_raw_token = staticmethod(access.get_raw_token)  # None: another scheme's, not ours to answer
    get_validated_token = staticmethod(access.get_validated_token)  # becomes `request.auth`
    get_user = staticmethod(access.get_user)  # from memory, else one query


class StaticTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, StaticToken] | None:
        scheme, credential = _authorization_parts(request)
        if scheme is None or scheme.lower() != api_settings.STATIC_TOKEN_HEADER_TYPE.lower():
            return None
        if not credential or " " in credential:
            raise TokenMalformed(_("Authorization header must be 'Token <key>'."))
        started = perf_counter()
        try:  # refused: a TokenInvalid subclass, answered as it is
            token = static_tokens.authenticate_key(credential)
        finally:
            metrics.observe_authentication("token", perf_counter() - started)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return api_settings.STATIC_TOKEN_HEADER_TYPE
