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
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from . import metrics, sessions, static_tokens
from .exceptions import InvalidToken
from .models import StaticToken
from .sessions import AccessContext
from .settings import api_settings
from .tokens import TokenError


def _authorization_parts(request: "Request | HttpRequest") -> tuple[str | None, str | None]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None, None
    scheme, _, credential = header.strip().partition(" ")
    return scheme, credential.strip()


def _invalid(error: TokenError) -> InvalidToken:
    return InvalidToken(error.reason, error.message)


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def enforce_csrf(request: HttpRequest) -> None:
    """Django's CSRF check for a cookie-authenticated request (403 on failure)."""
    # As DRF's SessionAuthentication: the middleware is only asked for its verdict, so it
    # needs neither a next handler nor a view.
    check = _CSRFCheck(lambda req: None)  # type: ignore[arg-type]
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")


class JWTSessionAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[Any, AccessContext] | None:
        scheme, credential = _authorization_parts(request)
        if scheme is not None:
            if scheme.lower() not in {t.lower() for t in api_settings.AUTH_HEADER_TYPES}:
                return None  # another scheme (Token, Basic...): another class's business
            if not credential or " " in credential:
                raise InvalidToken("malformed", _("Authorization header must be 'Bearer <token>'."))
            return self._authenticate_token(credential)
        raw = request.COOKIES.get(api_settings.ACCESS_COOKIE_NAME)
        if not raw:
            return None
        user_and_auth = self._authenticate_token(raw)
        # A cookie is sent by the browser on its own: unsafe methods need CSRF proof.
        enforce_csrf(request._request if hasattr(request, "_request") else request)
        return user_and_auth

    @staticmethod
    def _authenticate_token(raw: str) -> tuple[Any, AccessContext]:
        started = perf_counter()
        try:
            return sessions.authenticate_access(raw)
        except TokenError as error:
            raise _invalid(error) from None
        finally:
            metrics.observe_authentication("bearer", perf_counter() - started)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


class StaticTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, StaticToken] | None:
        scheme, credential = _authorization_parts(request)
        if scheme is None or scheme.lower() != api_settings.STATIC_TOKEN_HEADER_TYPE.lower():
            return None
        if not credential or " " in credential:
            raise InvalidToken("malformed", _("Authorization header must be 'Token <key>'."))
        started = perf_counter()
        try:
            token = static_tokens.authenticate_key(credential)
        except TokenError as error:
            raise _invalid(error) from None
        finally:
            metrics.observe_authentication("token", perf_counter() - started)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return api_settings.STATIC_TOKEN_HEADER_TYPE
