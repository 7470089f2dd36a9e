"""
The way in for every framework: one call that reads a request's credential and answers with
the authenticated user and session, or with a typed error that carries the exact answer.

    authenticate_request(request)   -> Authenticated | None      (sync views, DRF, Ninja)
    aauthenticate_request(request)  -> Authenticated | None      (async views, ASGI)

Invariants:
- The credential is the `Authorization: Bearer <access>` header, else the access cookie;
  a header always wins, and a header of another scheme (Token, Basic...) is not ours:
  the answer is None, and the cookie is not looked at. Never a query string.
- A cookie-authenticated request with an unsafe method must pass Django's CSRF check.
- Every check of a token is four steps, each replaceable (`Hooks`, the DRF class's methods
  as simplejwt's): `get_header`, `get_raw_token`, `get_validated_token` (the codec), and
  `get_user` (`sessions.session_user`: the cache, then the database) — the defaults do
  what `sessions.authenticate_access` does, no query more. Without replaced steps (Ninja,
  plain views, the async path) the same functions are called directly, not through the
  hooks: the same checks and answers, fewer calls on every request. The async path answers from
  memory when it can and reads the database in a worker thread otherwise, so it never
  blocks the event loop.
- Every failure is an `AuthenticationFailed` (`authgate.errors`, re-exported here) carrying
  `status`, `detail`, `code`, `reason` and the `WWW-Authenticate` value: DRF, Ninja, plain
  views and websockets answer from it, so one refusal reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from . import metrics, sessions
from .conf import api_settings
from .errors import WWW_AUTHENTICATE as WWW_AUTHENTICATE
from .errors import AuthenticationFailed as AuthenticationFailed
from .errors import CSRFFailed as CSRFFailed
from .errors import MalformedHeader as MalformedHeader
from .errors import NotAuthenticated as NotAuthenticated
from .tokens import ACCESS, Claims, TokenError, get_codec
from .types import User

if TYPE_CHECKING:
    from .sessions import AccessContext

HEADER = "header"
COOKIE = "cookie"


@dataclass(frozen=True)
class Credential:
    raw: str
    source: str  # HEADER or COOKIE


class Authenticated(NamedTuple):
    """Who a request's credential names (immutable; built on every authenticated request,
    so a named tuple rather than a frozen dataclass, whose `__init__` costs more)."""

    user: User
    auth: AccessContext
    source: str

    @property
    def session_id(self) -> str:
        return self.auth.session_id


# -- the pieces: each a hook of the DRF class (`Hooks`), as simplejwt's ---------------------
class Hooks(Protocol):
    """The four steps of a check, each of which a project may replace (by overriding the
    method of the same name on `JWTSessionAuthentication`)."""

    def get_header(self, request: HttpRequest) -> str | None: ...
    def get_raw_token(self, header: str) -> str | None: ...
    def get_validated_token(self, raw_token: str) -> AccessContext: ...
    def get_user(self, validated_token: AccessContext) -> Any: ...


def get_header(request: HttpRequest) -> str | None:
    """The raw `Authorization` header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header or None


def authorization_parts(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    scheme, _sep, credential = header.strip().partition(" ")
    return scheme, credential.strip()


_schemes: tuple[tuple[str, ...], frozenset[str]] = ((), frozenset())


def header_schemes() -> frozenset[str]:
    """`AUTH_HEADER_TYPES` in lower case: built again only when the setting's value changes."""
    global _schemes
    types = tuple(api_settings.AUTH_HEADER_TYPES)  # the same tuple, not a copy, by default
    if types != _schemes[0]:
        _schemes = (types, frozenset(t.lower() for t in types))
    return _schemes[1]


def get_raw_token(header: str) -> str | None:
    """The token of an `Authorization` value of one of `AUTH_HEADER_TYPES`; None when the
    value is another scheme's; AuthenticationFailed (`malformed`) when it is not
    `<scheme> <token>`."""
    scheme, _sep, raw = header.strip().partition(" ")  # `authorization_parts`, inline: every request
    if not scheme or scheme.lower() not in header_schemes():
        return None
    raw = raw.strip()
    if not raw or " " in raw:
        raise MalformedHeader()
    return raw


def get_validated_token(raw_token: str) -> AccessContext:
    """The verified access token (signature, expiry, type) as `request.auth` holds it, or
    AuthenticationFailed. Says nothing yet about its session: `get_user` does."""
    try:
        return sessions.AccessContext(get_codec().decode(raw_token, ACCESS))
    except TokenError as error:
        raise AuthenticationFailed(error.reason, error.message) from None


def get_user(validated_token: AccessContext) -> Any:
    """The user of a verified token's live session (from memory when the cache may answer,
    else one query), or AuthenticationFailed."""
    try:
        return sessions.session_user(validated_token.claims)
    except TokenError as error:
        raise AuthenticationFailed(error.reason, error.message) from None


class _DefaultHooks:
    get_header = staticmethod(get_header)
    get_raw_token = staticmethod(get_raw_token)
    get_validated_token = staticmethod(get_validated_token)
    get_user = staticmethod(get_user)


DEFAULT_HOOKS: Hooks = _DefaultHooks()


def get_credential(request: HttpRequest, hooks: Hooks = DEFAULT_HOOKS) -> Credential | None:
    """The access token a request presents: the Bearer header, else the access cookie.
    None when there is none, or when the header is another scheme's."""
    if hooks is DEFAULT_HOOKS:
        found = _credential(request)
        return None if found is None else Credential(*found)
    header = hooks.get_header(request)
    if header is not None:
        raw = hooks.get_raw_token(header)
        return None if raw is None else Credential(raw, HEADER)
    cookie = request.COOKIES.get(api_settings.ACCESS_COOKIE_NAME)
    return Credential(cookie, COOKIE) if cookie else None


def _credential(request: HttpRequest) -> tuple[str, str] | None:
    """`get_credential` with the default hooks, as (raw, source): the per-request path."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header:
        # `get_raw_token(header)`, inline: every request.
        scheme, _sep, raw = header.strip().partition(" ")
        if not scheme or scheme.lower() not in header_schemes():
            return None
        raw = raw.strip()
        if not raw or " " in raw:
            raise MalformedHeader()
        return raw, HEADER
    cookie = request.COOKIES.get(api_settings.ACCESS_COOKIE_NAME)
    return (cookie, COOKIE) if cookie else None


def credential_from(authorization: str | None, cookies: Mapping[str, str]) -> Credential | None:
    """`get_credential` from an `Authorization` value and the cookies (a websocket handshake
    has no HttpRequest)."""
    if authorization:
        raw = get_raw_token(authorization)
        return None if raw is None else Credential(raw, HEADER)
    cookie = cookies.get(api_settings.ACCESS_COOKIE_NAME)
    return Credential(cookie, COOKIE) if cookie else None


def check_access(raw: str, hooks: Hooks = DEFAULT_HOOKS) -> tuple[Any, AccessContext]:
    """(user, AccessContext) of a live access token; AuthenticationFailed otherwise."""
    started = perf_counter()
    try:
        validated = hooks.get_validated_token(raw)
        return hooks.get_user(validated), validated
    finally:
        metrics.observe_authentication("bearer", perf_counter() - started)


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Django's CSRF verdict on a request: None when it passes, else the reason."""
    # As DRF's SessionAuthentication: the middleware is only asked for its verdict, so it
    # needs neither a next handler nor a view.
    check = _CSRFCheck(lambda req: None)  # type: ignore[arg-type]
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[arg-type,return-value]


def enforce_csrf(request: HttpRequest) -> None:
    reason = csrf_failure(request)
    if reason:
        raise CSRFFailed(detail=f"CSRF Failed: {reason}")


# -- the one call ------------------------------------------------------------------------
def authenticate_request(request: HttpRequest, hooks: Hooks = DEFAULT_HOOKS) -> Authenticated | None:
    """The user and session a request's credential names; None without one (or with
    another scheme's header); AuthenticationFailed when it is refused. `hooks` replaces
    any of the four steps (the DRF class passes itself)."""
    if hooks is not DEFAULT_HOOKS:
        credential = get_credential(request, hooks)
        if credential is None:
            return None
        user, auth = check_access(credential.raw, hooks)
        raw, source = credential.raw, credential.source
    else:
        # The default steps, called directly: the same checks with fewer calls per request
        # (Ninja and plain views come this way on every request).
        found = _credential(request)
        if found is None:
            return None
        raw, source = found
        started = perf_counter()
        try:
            claims = get_codec().decode(raw, ACCESS)
            user, auth = sessions.session_user(claims), sessions.AccessContext(claims)
        except TokenError as error:
            raise AuthenticationFailed(error.reason, error.message) from None
        finally:
            metrics.observe_authentication("bearer", perf_counter() - started)
    if source == COOKIE:
        # A cookie is sent by the browser on its own: unsafe methods need CSRF proof.
        enforce_csrf(request)
    return Authenticated(user, auth, source)


def _check_claims(claims: Claims, started: float) -> tuple[Any, AccessContext]:
    try:
        return sessions.access_from_database(claims)
    except TokenError as error:
        raise AuthenticationFailed(error.reason, error.message) from None
    finally:
        metrics.observe_authentication("bearer", perf_counter() - started)


async def acheck_access(raw: str) -> tuple[Any, AccessContext]:
    """`check_access` for the event loop: the signature and the cache are checked here
    (memory only); a miss reads the database in a worker thread."""
    started = perf_counter()
    try:
        claims = get_codec().decode(raw, ACCESS)
        hit = sessions.cached_access(claims)
    except TokenError as error:
        metrics.observe_authentication("bearer", perf_counter() - started)
        raise AuthenticationFailed(error.reason, error.message) from None
    if hit is not None:
        metrics.observe_authentication("bearer", perf_counter() - started)
        return hit
    return await sync_to_async(_check_claims)(claims, started)


async def aauthenticate_request(request: HttpRequest) -> Authenticated | None:
    """`authenticate_request` without blocking the event loop."""
    found = _credential(request)
    if found is None:
        return None
    raw, source = found
    user, auth = await acheck_access(raw)
    if source == COOKIE:
        enforce_csrf(request)  # reads the request only: no I/O
    return Authenticated(user, auth, source)
