"""
authgate for plain Django views (no DRF): a decorator per view, or a middleware for whole
URL prefixes. Both set `request.user` (and `request.auth`, the token's `AccessContext`) from
the Bearer header or the access cookie, through `access.authenticate_request` — the call
the DRF class makes — and answer a refusal with the same JSON body and `WWW-Authenticate`.

Invariants:
- sync views are checked synchronously, async views (and the middleware under ASGI) through
  `aauthenticate_request`, which never blocks the event loop;
- a request authenticated here needs no CSRF token when it came with a header; one that
  came with the cookie has passed Django's CSRF check for unsafe methods already;
- without a credential a protected view answers 401 `not_authenticated` (or, with
  `optional=True`, runs with the user Django gave it).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .access import Authenticated, AuthenticationFailed, NotAuthenticated, aauthenticate_request, authenticate_request
from .conf import api_settings

View = TypeVar("View", bound=Callable[..., Any])


def _apply(request: HttpRequest, result: Authenticated | None, optional: bool) -> HttpResponse | None:
    if result is None:
        return None if optional else NotAuthenticated().response()
    request.user = result.user
    # HttpRequest declares neither attribute: `auth` as DRF's Request has it, and Django's
    # own switch for the CSRF check.
    request.auth = result.auth  # type: ignore[attr-defined]
    # The credential was not sent by the browser on its own (or passed the CSRF check).
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
    return None


def _check(request: HttpRequest, optional: bool) -> HttpResponse | None:
    try:
        return _apply(request, authenticate_request(request), optional)
    except AuthenticationFailed as failure:
        return failure.response()


async def _acheck(request: HttpRequest, optional: bool) -> HttpResponse | None:
    try:
        return _apply(request, await aauthenticate_request(request), optional)
    except AuthenticationFailed as failure:
        return failure.response()


@overload
def jwt_required(view: View) -> View: ...
@overload
def jwt_required(view: None = None, *, optional: bool = False) -> Callable[[View], View]: ...
def jwt_required(view: View | None = None, *, optional: bool = False) -> View | Callable[[View], View]:
    """Protect a plain Django view (sync or async) with authgate's sessions:

        @jwt_required
        def profile(request): ...

    `@jwt_required(optional=True)` lets anonymous requests through (a credential that is
    presented must still be valid)."""

    def decorate(func: View) -> View:
        if iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refusal = await _acheck(request, optional)
                return refusal if refusal is not None else await func(request, *args, **kwargs)

            # What csrf_exempt() sets (no attribute of a function to a type checker); the
            # wrapper has the view's signature (functools.wraps).
            async_wrapper.csrf_exempt = True  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refusal = _check(request, optional)
            return refusal if refusal is not None else func(request, *args, **kwargs)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # as above
        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


class JWTAuthenticationMiddleware:
    """Authenticates every request whose path starts with one of
    `AUTHGATE["AUTHENTICATED_PATH_PREFIXES"]` (after Django's AuthenticationMiddleware);
    other paths pass untouched. Works under WSGI and ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @staticmethod
    def applies_to(request: HttpRequest) -> bool:
        return request.path_info.startswith(tuple(api_settings.AUTHENTICATED_PATH_PREFIXES))

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if self.applies_to(request):
            refusal = _check(request, optional=False)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.applies_to(request):
            refusal = await _acheck(request, optional=False)
            if refusal is not None:
                return refusal
        # Async mode: Django gave an async `get_response` (`is_async`).
        return await cast(Awaitable[HttpResponseBase], self.get_response(request))
