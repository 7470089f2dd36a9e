"""
Websockets (Django Channels) bound to a session, in process: the handshake is authenticated
by the Bearer header or the access cookie (never the query string; a cookie only from this
site's origin), and an open connection is closed with 4001 when its session ends — logout,
logout everywhere, password change, deactivation — driven by the invalidation messages.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from authgate import live
from server.asgi import application

from ..conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db(transaction=True)

BOUND = 5  # seconds the test waits for a close before calling it missing (not a timing claim)


@pytest.fixture(autouse=True)
def rereads_done_before_the_database_is_emptied():
    """A message heard while a connection was open (the user's or the session's rows
    written by the test) has the live registry re-read that session on a thread and a
    connection of its own; emptying the tables meanwhile would deadlock with that read
    (PostgreSQL's TRUNCATE takes the tables one by one, the read joins two of them)."""
    yield
    live.drain()


class WebsocketCommunicator(ApplicationCommunicator):
    """A websocket client speaking ASGI to the application in process (channels.testing's
    own needs daphne, which the service does not use)."""

    def __init__(self, app, path, headers):
        path, _, query = path.partition("?")
        super().__init__(
            app,
            {"type": "websocket", "path": path, "query_string": query.encode(), "headers": headers, "subprotocols": []},
        )

    async def connect(self, timeout):
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.accept":
            return True, None
        return False, response

    async def send_to(self, text_data):
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def receive_from(self, timeout):
        return (await self.receive_output(timeout))["text"]

    async def disconnect(self):
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(BOUND)


def headers_for(access=None, cookie=None, origin=None):
    headers = [(b"host", b"testserver")]
    if access:
        headers.append((b"authorization", f"Bearer {access}".encode()))
    if cookie:
        headers.append((b"cookie", f"authgate_access={cookie}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return headers


def handshake(headers, path="/ws/echo/"):
    async def run():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=BOUND)
        if connected:
            await communicator.send_to(text_data="ping")
            echoed = await communicator.receive_from(timeout=BOUND)
            await communicator.disconnect()
            return True, echoed
        return False, code

    return async_to_sync(run)()


def closed_by(headers, action):
    """Open a connection, run `action()` (sync, in a thread), return the close code."""

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/echo/", headers=headers)
        connected, _ = await communicator.connect(timeout=BOUND)
        assert connected
        await communicator.send_to(text_data="ping")
        assert await communicator.receive_from(timeout=BOUND) == "ping"
        await asyncio.to_thread(action)
        message = await communicator.receive_output(timeout=BOUND)
        await communicator.disconnect()
        return message

    return async_to_sync(run)()


def test_a_bearer_handshake_is_accepted_and_echoes(user, tokens_for):
    assert handshake(headers_for(tokens_for(user)["access"])) == (True, "ping")
    assert live.count() == 0  # unregistered on disconnect


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(headers_for(), id="no credential"),
        pytest.param(headers_for("not.a.token"), id="malformed token"),
    ],
)
def test_a_handshake_without_a_valid_credential_is_refused(headers):
    assert handshake(headers)[0] is False


def test_a_token_in_the_query_string_is_not_read(user, tokens_for):
    access = tokens_for(user)["access"]
    assert handshake(headers_for(), path=f"/ws/echo/?token={access}")[0] is False


def test_a_revoked_token_is_refused_at_the_handshake(user, tokens_for):
    access = tokens_for(user)["access"]
    assert Client().post("/api/auth/logout/", {}, content_type="application/json", **bearer(access)).status_code == 200
    assert handshake(headers_for(access))[0] is False


def test_the_cookie_counts_only_from_this_sites_origin(user, tokens_for):
    access = tokens_for(user)["access"]
    assert handshake(headers_for(cookie=access, origin="http://testserver")) == (True, "ping")
    assert handshake(headers_for(cookie=access, origin="https://evil.example"))[0] is False
    assert handshake(headers_for(cookie=access))[0] is False  # no Origin: not a same-site page


def logout(access):
    assert Client().post("/api/auth/logout/", {}, content_type="application/json", **bearer(access)).status_code == 200


def logout_all(access):
    assert (
        Client().post("/api/auth/logout/all/", {}, content_type="application/json", **bearer(access)).status_code == 200
    )


def test_a_logout_closes_the_connection_with_4001(user, tokens_for):
    access = tokens_for(user)["access"]
    message = closed_by(headers_for(access), lambda: logout(access))
    assert message == {"type": "websocket.close", "code": 4001}


def test_logout_everywhere_closes_every_connection_of_the_user(user, tokens_for):
    phone, laptop = tokens_for(user)["access"], tokens_for(user)["access"]
    message = closed_by(headers_for(phone), lambda: logout_all(laptop))
    assert message == {"type": "websocket.close", "code": 4001}


def test_a_password_change_closes_the_other_sessions_connections(user, tokens_for):
    phone, laptop = tokens_for(user)["access"], tokens_for(user)["access"]

    def change_password():
        response = Client().post(
            "/api/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "another-horse-battery-7"},
            content_type="application/json",
            **bearer(laptop),
        )
        assert response.status_code == 200, response.content

    assert closed_by(headers_for(phone), change_password) == {"type": "websocket.close", "code": 4001}


def test_deactivating_the_user_closes_the_connection(user, tokens_for):
    access = tokens_for(user)["access"]

    def deactivate():
        deactivated = get_user_model().objects.get(pk=user.pk)
        deactivated.is_active = False
        deactivated.save()

    assert closed_by(headers_for(access), deactivate) == {"type": "websocket.close", "code": 4001}


def test_another_session_of_the_user_stays_open_after_a_logout(user, tokens_for):
    phone, laptop = tokens_for(user)["access"], tokens_for(user)["access"]

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/echo/", headers=headers_for(phone))
        assert (await communicator.connect(timeout=BOUND))[0]
        await asyncio.to_thread(logout, laptop)
        await communicator.send_to(text_data="still here")
        echoed = await communicator.receive_from(timeout=BOUND)
        await communicator.disconnect()
        return echoed

    assert async_to_sync(run)() == "still here"
