"""
authgate for Django Ninja (the `authgate[ninja]` extra; this module imports `ninja`).

    api = NinjaAPI(auth=JWTSessionAuth())
    authgate.ninja.install(api)      # authgate's JSON answers for refused credentials

`JWTSessionAuth` is an `HttpBearer` that also reads the access cookie (with Django's CSRF
check for unsafe methods). It authenticates through `access.authenticate_request` — the
call the DRF class makes — so a logged-out token is refused on the next request here too.

Invariants:
- one instance serves sync and async operations: called on the event loop (an async
  operation) it returns a coroutine that answers from memory and reads the database in a
  worker thread on a miss; called anywhere else (a sync operation) it answers at once;
- a refusal raises `AuthenticationFailed`, which `install(api)` answers with the body and
  `WWW-Authenticate` of the DRF class. It is also a ninja `HttpError`, so an API without
  the handler still answers 401/403 with a `detail`;
- the authenticated user is on `request.user`, the auth result (`request.auth`) is the
  `Authenticated` value: `.user`, `.auth` (the token's claims), `.session_id`.
"""

from __future__ import annotations

from asyncio import _get_running_loop
from collections.abc import Coroutine
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.security import HttpBearer

from . import access
from .access import Authenticated

__all__ = ["JWTSessionAuth", "AuthenticationFailed", "install"]


class AuthenticationFailed(HttpError):
    """A refused credential inside a Ninja API; `failure` is authgate's own error."""

    def __init__(self, failure: access.AuthenticationFailed) -> None:
        super().__init__(failure.status, str(failure.detail))
        self.failure = failure


class JWTSessionAuth(HttpBearer):
    """Bearer header or access cookie, checked against authgate's sessions.

    Without any credential it raises `not_authenticated` (as DRF answers); pass
    `required=False` to return None instead, so that a later auth class in a list may try."""

    def __init__(self, required: bool = True) -> None:
        super().__init__()
        self.required = required
        # Ninja asks: awaited in async operations, and (since `__call__` answers at once off
        # the event loop) called directly in sync ones.
        self.is_async = True

    def __call__(self, request: HttpRequest) -> Any:
        # Is this an async operation (awaited on the event loop)? asyncio's own test,
        # answered without raising (get_running_loop() raises off the loop).
        if _get_running_loop() is not None:
            return self._acall(request)
        try:
            result = access.authenticate_request(request)
            if result is None:
                return self._accept(request, None)
            request.user = result.user  # `_accept`, inline: every sync request
            return self.authenticate(request, result)
        except access.AuthenticationFailed as failure:
            raise AuthenticationFailed(failure) from None

    def _acall(self, request: HttpRequest) -> Coroutine[Any, Any, Authenticated | None]:
        async def check() -> Authenticated | None:
            try:
                return self._accept(request, await access.aauthenticate_request(request))
            except access.AuthenticationFailed as failure:
                raise AuthenticationFailed(failure) from None

        return check()

    def _accept(self, request: HttpRequest, result: Authenticated | None) -> Authenticated | None:
        if result is None:
            if self.required:
                raise access.NotAuthenticated()
            return None
        request.user = result.user
        return self.authenticate(request, result)

    # HttpBearer's hook takes the header's raw token; `__call__` above hands this one the
    # checked credential instead.
    def authenticate(self, request: HttpRequest, token: Authenticated) -> Authenticated | None:  # type: ignore[override]
        """Hook: what the operation gets as `request.auth` (the `Authenticated` value)."""
        return token


def authentication_failed(request: HttpRequest, exc: AuthenticationFailed, api: NinjaAPI) -> HttpResponse:
    failure = exc.failure
    response = api.create_response(request, failure.body(), status=failure.status)
    if failure.www_authenticate:
        response["WWW-Authenticate"] = failure.www_authenticate
    return response


def install(api: NinjaAPI) -> NinjaAPI:
    """Answer refused credentials in `api` as authgate does everywhere; returns `api`."""

    def handler(request: HttpRequest, exc: Any) -> HttpResponse:
        return authentication_failed(request, exc, api)

    api.add_exception_handler(AuthenticationFailed, handler)
    return api
