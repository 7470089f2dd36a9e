"""
Every error authgate answers with, as one hierarchy of classes that carry their answer
(itsdangerous-style: data on the exception), and the one handler that shapes it.

Invariants:
- Every authgate error is an `AuthgateError` (a DRF `APIException`): its `status_code`,
  `code`, `default_detail` and — for token errors — `reason` are class attributes, so a
  refusal is named by its class (`raise TokenExpired()`), never by a string spelled again.
- The body is `{"detail", "code"}`, plus `"reason"` when the class has one (token errors:
  `malformed`, `expired`, `revoked`, `wrong_type`, `user_inactive`); a 401 carries
  `WWW-Authenticate: Bearer realm="api"`. DRF views, plain views, Ninja and websockets
  answer from the same `body()`, so one refusal reads the same everywhere.
- A class keeps the DRF base it answers through (`AuthenticationFailed` for the 401s
  that DRF gives `WWW-Authenticate`), so no answer changes with the hierarchy.
- Validation errors keep DRF's `{"field": [...]}` shape, and nothing a client sends
  produces an HTML page or a 500 (`exception_handler`, `handler400`...).
- This module imports no other authgate module.
"""

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise
    from rest_framework.response import Response

logger = logging.getLogger("authgate.errors")

WWW_AUTHENTICATE = 'Bearer realm="api"'


class AuthgateError(exceptions.APIException):
    """The base: the answer is class data; an instance may give its own `detail` (and, for
    the few errors whose answer varies, `reason`, `code` or `status_code`)."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "error"
    default_code = "error"
    reason: str | None = None
    default_detail: "str | StrPromise" = _("Bad request.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.default_code = cls.code  # DRF's name for it

    def __init__(
        self,
        detail: "str | StrPromise | None" = None,
        *,
        reason: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        super().__init__(detail or self.default_detail, self.code)

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def message(self) -> str:
        """The detail's text (the older name, from `TokenError`)."""
        return str(self.detail)

    @property
    def www_authenticate(self) -> str | None:
        return WWW_AUTHENTICATE if self.status_code == status.HTTP_401_UNAUTHORIZED else None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": str(self.detail), "code": self.code}
        if self.reason is not None:
            body["reason"] = self.reason
        return body

    def response(self) -> JsonResponse:
        """The JSON answer outside DRF, as the DRF exception handler would give it."""
        response = JsonResponse(self.body(), status=self.status_code)
        if self.www_authenticate:
            response["WWW-Authenticate"] = self.www_authenticate
        return response


# -- a token refused: 401 token_not_valid, with its reason -------------------------------
class TokenInvalid(AuthgateError, exceptions.AuthenticationFailed):
    """A token that must be refused (JWT, refresh or static token): 401 `token_not_valid`;
    the subclass is the reason."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "token_not_valid"
    reason: str | None = "malformed"
    default_detail = _("Token is invalid.")


class TokenMalformed(TokenInvalid):
    """Anything that does not verify: structure, signature, a disallowed `alg`, an unknown `kid`."""

    reason = "malformed"


class TokenExpired(TokenInvalid):
    reason = "expired"
    default_detail = _("Token has expired.")


class TokenRevoked(TokenInvalid):
    """Its session ended (or its user was deleted), or it was spent."""

    reason = "revoked"
    default_detail = _("Token is blacklisted")


class TokenWrongType(TokenInvalid):
    reason = "wrong_type"


class UserInactive(TokenInvalid):
    reason = "user_inactive"
    default_detail = _("User is inactive.")


class InvalidToken(TokenInvalid):
    """A token refused for a reason known only at run time: `InvalidToken(reason, detail)`."""

    def __init__(self, reason: str, detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail, reason=reason)


# -- the framework-independent refusals of `authgate.access` -----------------------------
class AuthenticationFailed(AuthgateError):
    """A refused credential at the way in (`authgate.access`): 401 `token_not_valid`, with
    `reason` when one is given. Answered by DRF through the authentication class, by plain
    views, Ninja and websockets through `response()`/`body()`."""

    status_code: int = status.HTTP_401_UNAUTHORIZED
    code = "token_not_valid"
    default_detail = _("Token is invalid.")

    def __init__(
        self, reason: str | None = None, detail: "str | StrPromise | None" = None, code: str | None = None
    ) -> None:
        super().__init__(detail, reason=reason, code=code)


class MalformedHeader(AuthenticationFailed):
    """An `Authorization` value of our scheme that is not `<scheme> <token>`."""

    reason = "malformed"
    default_detail = _("Authorization header must be 'Bearer <token>'.")


class NotAuthenticated(AuthenticationFailed):
    """No credential at all, on a route that needs one."""

    code = "not_authenticated"
    default_detail = _("Authentication credentials were not provided.")


class CSRFFailed(AuthenticationFailed):
    """A cookie-authenticated unsafe request without the CSRF proof (403, as DRF's)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"


# -- the API's other refusals ------------------------------------------------------------
class InvalidCredentials(AuthgateError, exceptions.AuthenticationFailed):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_credentials"
    default_detail = _("No active account found with the given credentials.")


class TokenNotValidRequest(AuthgateError):
    """400 `token_not_valid`: logout given a refresh token that cannot end anything."""

    code = "token_not_valid"
    default_detail = _("Token is invalid or already revoked.")


class RefreshRequired(AuthgateError):
    code = "refresh_required"
    default_detail = _("No credential given: send a refresh token, an access token or the auth cookies.")


class InvalidLink(AuthgateError):
    """400 `invalid_link`: a reset or verification link that is invalid, expired, tampered
    with or already used (one answer for all, so it tells an attacker nothing)."""

    code = "invalid_link"
    default_detail = _("This link is invalid or has expired. Ask for a new one.")


class EmailTaken(AuthgateError):
    """400 `email_taken`: a pending address that another account took (registered or
    verified) before the link mailed to it was used; nothing changes."""

    code = "email_taken"
    default_detail = _("Another account now uses this email address: it cannot become yours.")


class EmailUnverified(AuthgateError):
    """403 `email_unverified`: only ever raised after the password was right."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "email_unverified"
    default_detail = _("Verify your email address before signing in: follow the link we sent you.")


class MFARequired(AuthgateError):
    """403 `mfa_required`: the first factor was right and the account has a second one. The
    answer carries `mfa_token`, `methods` and each factor's challenge fields (`extra`)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "mfa_required"
    default_detail = _("Enter the code from your authenticator app, a recovery code, or use your security key.")

    def __init__(self, extra: dict[str, Any], detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail)
        self.extra = extra


class InvalidCode(AuthgateError):
    """401 `invalid_code` (400 when confirming a set-up): a second-factor proof that does not verify."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_code"
    default_detail = _("The code is invalid or has expired.")

    def __init__(self, detail: "str | StrPromise | None" = None, status_code: int | None = None) -> None:
        super().__init__(detail, status_code=status_code)


class MFATokenInvalid(AuthgateError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "mfa_token_invalid"
    default_detail = _("This sign-in attempt has expired or was already used. Sign in again.")


class ReauthenticationRequired(AuthgateError):
    """403 `reauthentication_required`: a sensitive action without a recent second-factor
    proof on this session; `extra` holds `methods` (and challenges) to re-authenticate with."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "reauthentication_required"
    default_detail = _("Confirm it's you: re-authenticate with your second factor, then try again.")

    def __init__(self, extra: dict[str, Any] | None = None, detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail)
        self.extra = extra or {}


class ServiceUnavailable(AuthgateError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "database_unavailable"
    default_detail = _("The database is unavailable; try again shortly.")


# -- the one handler ---------------------------------------------------------------------
def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("detail"), str):
        return str(codes["detail"])
    return str(getattr(exc, "default_code", "error"))


def exception_handler(exc: Exception, context: dict[str, Any]) -> "Response | None":
    """DRF exception handler: DRF's, reshaped so non-validation errors carry `code` (and an
    authgate error its `reason` and `extra` fields)."""
    from rest_framework.views import exception_handler as drf_exception_handler  # import cycle

    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", exc.__class__.__name__)
        exc = ServiceUnavailable()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):  # DRF answers APIExceptions only
        return response
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(response.data, list):
            response.data = {"non_field_errors": response.data}
        return response
    if isinstance(exc, AuthgateError):
        body = exc.body()
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        body = {"detail": str(detail), "code": _code_of(exc)}
    extra = getattr(exc, "extra", None)
    if isinstance(extra, dict):
        body.update({key: value for key, value in extra.items() if key not in body})
    response.data = body
    return response


def json_error(status_code: int, detail: "str | StrPromise", code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


# Django-level handlers (outside DRF views: unknown URLs, crashes) also answer JSON.
def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(400, _("Bad request."), "bad_request")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(403, _("You do not have permission to perform this action."), "permission_denied")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(404, _("Not found."), "not_found")


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error(500, _("Internal server error."), "server_error")


def database_unavailable_response() -> JsonResponse:
    return json_error(503, ServiceUnavailable.default_detail, ServiceUnavailable.code)
