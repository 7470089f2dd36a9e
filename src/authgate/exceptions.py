"""
The error contract: every error is JSON `{"detail", "code"}` (token errors add
`"reason"`), validation errors keep DRF's `{"field": [...]}` shape, and nothing a client
sends produces an HTML page or a 500.
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


class InvalidToken(exceptions.AuthenticationFailed):
    """401 `token_not_valid` with the documented `reason` word."""

    default_detail = _("Token is invalid.")
    default_code = "token_not_valid"

    def __init__(self, reason: str, detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail or self.default_detail, self.default_code)
        self.reason = reason


class InvalidCredentials(exceptions.AuthenticationFailed):
    default_detail = _("No active account found with the given credentials.")
    default_code = "invalid_credentials"


class TokenNotValidRequest(exceptions.APIException):
    """400 `token_not_valid`: logout given a refresh token that cannot end anything."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Token is invalid or already revoked.")
    default_code = "token_not_valid"


class RefreshRequired(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("No credential given: send a refresh token, an access token or the auth cookies.")
    default_code = "refresh_required"


class InvalidLink(exceptions.APIException):
    """400 `invalid_link`: a reset or verification link that is invalid, expired, tampered
    with or already used (one answer for all, so it tells an attacker nothing)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("This link is invalid or has expired. Ask for a new one.")
    default_code = "invalid_link"


class EmailTaken(exceptions.APIException):
    """400 `email_taken`: a pending address that another account took (registered or
    verified) before the link mailed to it was used; nothing changes."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Another account now uses this email address: it cannot become yours.")
    default_code = "email_taken"


class EmailUnverified(exceptions.APIException):
    """403 `email_unverified`: only ever raised after the password was right."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("Verify your email address before signing in: follow the link we sent you.")
    default_code = "email_unverified"


class MFARequired(exceptions.APIException):
    """403 `mfa_required`: the first factor was right and the account has a second one. The
    answer carries `mfa_token`, `methods` and each factor's challenge fields (`extra`)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("Enter the code from your authenticator app, a recovery code, or use your security key.")
    default_code = "mfa_required"

    def __init__(self, extra: dict[str, Any], detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail or self.default_detail, self.default_code)
        self.extra = extra


class InvalidCode(exceptions.APIException):
    """401 `invalid_code` (400 when confirming a set-up): a second-factor proof that does not verify."""

    status_code: int = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The code is invalid or has expired.")
    default_code = "invalid_code"

    def __init__(self, detail: "str | StrPromise | None" = None, status_code: int | None = None) -> None:
        super().__init__(detail or self.default_detail, self.default_code)
        if status_code is not None:
            self.status_code = status_code


class MFATokenInvalid(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("This sign-in attempt has expired or was already used. Sign in again.")
    default_code = "mfa_token_invalid"


class ReauthenticationRequired(exceptions.APIException):
    """403 `reauthentication_required`: a sensitive action without a recent second-factor
    proof on this session; `extra` holds `methods` (and challenges) to re-authenticate with."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("Confirm it's you: re-authenticate with your second factor, then try again.")
    default_code = "reauthentication_required"

    def __init__(self, extra: dict[str, Any] | None = None, detail: "str | StrPromise | None" = None) -> None:
        super().__init__(detail or self.default_detail, self.default_code)
        self.extra = extra or {}


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The database is unavailable; try again shortly.")
    default_code = "database_unavailable"


def _code_of(exc: exceptions.APIException, data: Any) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("detail"), str):
        return str(codes["detail"])
    return str(getattr(exc, "default_code", "error"))


def exception_handler(exc: Exception, context: dict[str, Any]) -> "Response | None":
    """DRF exception handler: DRF's, reshaped so non-validation errors carry `code`."""
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
    detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
    body = {"detail": str(detail), "code": _code_of(exc, response.data)}
    if isinstance(exc, InvalidToken):
        body["reason"] = exc.reason
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
    return json_error(503, ServiceUnavailable.default_detail, ServiceUnavailable.default_code)
