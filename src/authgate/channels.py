"""
authgate for Django Channels websockets (the `authgate[channels]` extra; imports `channels`).

    application = ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": JWTSessionAuthMiddleware(URLRouter([path("ws/echo/", EchoConsumer.as_asgi())])),
    })

    class EchoConsumer(SessionWebsocketConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data)

Invariants:
- the handshake is authenticated by `Authorization: Bearer <access>` or the access cookie,
  never by the query string, through `access.acheck_access` (memory first, the database on
  a worker thread); a cookie counts only from a same-origin page (the `Origin` header
  matches the host, or `CSRF_TRUSTED_ORIGINS`): the websocket form of the CSRF check;
- a `SessionWebsocketConsumer` refuses a handshake without a valid credential (HTTP 401
  with authgate's JSON body where the server supports it, else 403), and once open is
  closed with `CLOSE_CODE` (4001) when its session ends, driven by the revocation bus
  (`authgate.live`);
- `scope["user"]` is the user (or AnonymousUser), `scope["authgate"]` the `Authenticated`
  value or None, `scope["authgate_error"]` the refusal or None.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils.translation import gettext_lazy as _

from . import access, live, sessions
from .access import Authenticated, AuthenticationFailed
from .tokens import Claims, TokenError

CLOSE_CODE = 4001  # the session ended

Scope = dict[str, Any]


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", [])}


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == headers.get("host"):
        return True
    return f"{parts.scheme}://{parts.netloc}" in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])


async def authenticate_handshake(scope: Scope) -> Authenticated | None:
    """The `Authenticated` value of a websocket handshake; None without a credential;
    AuthenticationFailed when it is refused."""
    headers = _headers(scope)
    credential = access.credential_from(headers.get("authorization"), parse_cookie(headers.get("cookie", "")))
    if credential is None:
        return None
    user, auth = await access.acheck_access(credential.raw)
    if credential.source == access.COOKIE and not _same_origin(headers):
        raise access.CSRFFailed(detail=_("A cookie-authenticated websocket must come from this site's origin."))
    return Authenticated(user, auth, credential.source)


class JWTSessionAuthMiddleware:
    """Channels middleware: authenticates websocket handshakes (see the module docstring)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            scope = dict(scope)
            scope["user"], scope["authgate"], scope["authgate_error"] = AnonymousUser(), None, None
            try:
                result = await authenticate_handshake(scope)
            except AuthenticationFailed as failure:
                scope["authgate_error"] = failure
            else:
                if result is not None:
                    scope["user"], scope["authgate"] = result.user, result
        return await self.inner(scope, receive, send)


def _still_live(claims: Claims) -> None:
    if sessions.cached_access(claims) is None:
        sessions.access_from_database(claims)


class SessionWebsocketConsumer(AsyncWebsocketConsumer):
    """A websocket that lives as long as the session that opened it (override `connect`,
    `receive`... as usual; `self.scope["user"]` is the user)."""

    close_code = CLOSE_CODE

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        failure = self.scope.get("authgate_error")
        result: Authenticated | None = self.scope.get("authgate")
        if failure is None and result is None:
            failure = access.NotAuthenticated()
        if failure is not None:
            await self._refuse(failure)
            return
        assert result is not None
        self.claims = result.auth.claims
        self._loop = asyncio.get_running_loop()
        self._ending = False
        live.register(self)
        try:
            # Ended between the check and the registration: the message may have passed.
            await sync_to_async(_still_live)(self.claims)
        except TokenError as error:
            live.unregister(self)
            await self._refuse(AuthenticationFailed(error.reason, error.message))
            return
        await super().websocket_connect(message)

    async def _refuse(self, failure: AuthenticationFailed) -> None:
        if "websocket.http.response" in self.scope.get("extensions", {}):
            headers = [(b"content-type", b"application/json")]
            if failure.www_authenticate:
                headers.append((b"www-authenticate", failure.www_authenticate.encode()))
            await self.base_send(
                {"type": "websocket.http.response.start", "status": failure.status, "headers": headers}
            )
            body = json.dumps(failure.body()).encode()
            await self.base_send({"type": "websocket.http.response.body", "body": body})
        else:
            await self.close()

    def end(self) -> None:
        """Close with 4001 (called by `authgate.live`, from any thread)."""
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._end()))

    async def _end(self) -> None:
        if self._ending:
            return
        self._ending = True
        await self.close(code=self.close_code)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if hasattr(self, "claims"):
            live.unregister(self)
        await super().websocket_disconnect(message)
