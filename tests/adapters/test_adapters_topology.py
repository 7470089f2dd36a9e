"""
The next-request guarantee beyond DRF, across real processes: two servers A and B (one
worker each, so that B's only process holds the session in its cache), WSGI and ASGI
(uvicorn workers), on SQLite (the shared file) and on PostgreSQL + Redis (a private
redis-server):

- ROUNDS x (a request to B on a Ninja, plain or DRF route, sync or async, so B caches the
  session; logout on A; at once the same access token to B on that route): 0 accepted;
- over ASGI, a websocket open on A is closed with 4001 within the propagation bound (2 s)
  of a logout, logout everywhere or password change answered by B, or of a deactivation
  made by a third process.

The number of rounds per server kind and database is AUTHGATE_TEST_ADAPTER_ROUNDS: 250 by
default (1000 across the four set-ups, so that `make test` stays lean; the DRF route's own
loop runs 1000 per bus), 1000 for the full loop on each.
"""

import asyncio
import json
import os
import time

import httpx
import pytest

from tests.support.processes import GunicornServer

from ..support.topology import (
    RedisServer,
    create_database,
    drop_database,
    manage,
    postgres_url,
    require,
    server_environment,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

ROUNDS = int(os.environ.get("AUTHGATE_TEST_ADAPTER_ROUNDS", "250"))
TIMEOUT = 60
BOUND = 2.0  # seconds: the propagation bound (a heartbeat's trust)
ROUTES = [
    "/api/ninja/protected/",
    "/api/ninja/async/protected/",
    "/api/plain/protected/",
    "/api/plain/async/protected/",
    "/api/protected/",
]
PASSWORD = "correct-horse-battery-9"

MINT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from authgate.sessions import open_session
user, _ = get_user_model().objects.get_or_create(
    username=%r, defaults={"email": %r, "password": make_password(%r)})
pairs = [open_session(user, device=f"d{i}")[1] for i in range(%d)]
print("TOKENS" + json.dumps([p.access for p in pairs]))
"""


class Bus:
    def __init__(self, name, env):
        self.name = name
        self.env = env
        self.servers = []

    def start(self, kind):
        args = ["--timeout", "60", "--graceful-timeout", "5"]
        app = "server.wsgi:application"
        env = self.env
        if kind == "asgi":
            app = "server.asgi:application"
            args += ["-k", "uvicorn_worker.UvicornWorker"]
            env = {**env, "SERVER": "asgi"}
        server = GunicornServer(app, env, workers=1, args=args, health_path="/api/public/").start()
        self.servers.append(server)
        return server

    def mint(self, count, username="adapters"):
        out = manage(self.env, "shell", "-c", MINT % (username, f"{username}@example.com", PASSWORD, count))
        return json.loads(out.split("TOKENS", 1)[1])

    def stop(self):
        for server in self.servers:
            server.stop(remove_log=True)
        self.servers.clear()


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def bus(request, tmp_path_factory):
    require("gunicorn")
    var = tmp_path_factory.mktemp(f"var-{request.param.replace('+', '-')}")
    redis_server = dbname = None
    try:
        if request.param == "sqlite":
            env = server_environment(f"sqlite:///{var / 'db.sqlite3'}", AUTHGATE_VAR_DIR=str(var))
        else:
            require("postgres", "redis-server")
            dbname = create_database("authgate_adapters")
            redis_server = RedisServer().start()
            env = server_environment(postgres_url(dbname), redis_server.url, AUTHGATE_VAR_DIR=str(var))
        manage(env, "migrate", "--noinput")
        yield Bus(request.param, env)
    finally:
        if redis_server:
            redis_server.kill()
        if dbname:
            drop_database(dbname)


@pytest.fixture(scope="module")
def pairs(bus):
    """Servers A and B of each kind, started on first use and kept for the module."""
    started = {}

    def pair(kind):
        if kind not in started:
            started[kind] = (bus.start(kind), bus.start(kind))
        return started[kind]

    yield pair
    bus.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def end_behind_the_back(cluster, sid, undo=False):
    """End (or reopen) a session without telling any bus: raw SQL, the notify triggers off."""
    value = "NULL" if undo else "CURRENT_TIMESTAMP"
    url = cluster.env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(f"UPDATE authgate_session SET ended_at = {value} WHERE replace(id, '-', '') = ?", (sid,))
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute("ALTER TABLE authgate_session DISABLE TRIGGER authgate_session_changed")
            conn.execute(f"UPDATE authgate_session SET ended_at = {value} WHERE id = %s", (sid,))
            conn.execute("ALTER TABLE authgate_session ENABLE TRIGGER authgate_session_changed")


def wait_until_cached(cluster, client, probe):
    """Ask B until it answers from its cache (its bus trusted): it then still accepts a
    session ended behind every bus's back. Otherwise the loop below would prove nothing."""
    import jwt

    sid = jwt.decode(probe, options={"verify_signature": False})["sid"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert client.get(ROUTES[0], headers=bearer(probe)).status_code == 200
        end_behind_the_back(cluster, sid)
        try:
            if client.get(ROUTES[0], headers=bearer(probe)).status_code == 200:
                return
        finally:
            end_behind_the_back(cluster, sid, undo=True)
        time.sleep(0.05)
    raise AssertionError("B never answered from its session cache")


@pytest.mark.timeout(900)  # a loaded machine: many requests, no timing claim
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_very_next_request_after_a_logout_is_refused_on_every_route(bus, pairs, kind):
    cluster = bus
    a, b = pairs(kind)
    tokens = cluster.mint(ROUNDS + 1)
    accepted = []
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        wait_until_cached(cluster, on_b, tokens.pop())
        for i, token in enumerate(tokens):
            route = ROUTES[i % len(ROUTES)]
            assert on_b.get(route, headers=bearer(token)).status_code == 200  # B caches it
            assert on_a.post("/api/auth/logout/", headers=bearer(token)).status_code == 200
            response = on_b.get(route, headers=bearer(token))
            if response.status_code != 401 or response.json().get("reason") != "revoked":
                accepted.append((i, route, response.status_code))
    assert accepted == [], f"{len(accepted)} of {len(tokens)} revoked tokens not refused over {kind} on {cluster.name}"


def login(server, username):
    response = httpx.post(
        f"{server.url}/api/auth/login/", json={"username": username, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


DEACTIVATE = """
from django.contrib.auth import get_user_model
user = get_user_model().objects.get(username=%r)
user.is_active = False
user.save()
"""


def _logout(cluster, b, username, socket_token):
    return httpx.post(f"{b.url}/api/auth/logout/", headers=bearer(socket_token), timeout=TIMEOUT)


def _logout_all(cluster, b, username, socket_token):
    return httpx.post(f"{b.url}/api/auth/logout/all/", headers=bearer(login(b, username)), timeout=TIMEOUT)


def _password_change(cluster, b, username, socket_token):
    body = {"old_password": PASSWORD, "new_password": "another-horse-battery-7"}
    return httpx.post(
        f"{b.url}/api/auth/password/change/", json=body, headers=bearer(login(b, username)), timeout=TIMEOUT
    )


def _deactivation(cluster, b, username, socket_token):
    manage(cluster.env, "shell", "-c", DEACTIVATE % username)
    return httpx.Response(200)


@pytest.mark.parametrize(
    "ending", [_logout, _logout_all, _password_change, _deactivation], ids=lambda f: f.__name__[1:]
)
def test_a_websocket_open_on_a_is_closed_with_4001_when_its_session_ends_through_b(bus, pairs, ending):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    cluster = bus
    a, b = pairs("asgi")
    username = f"ws-{ending.__name__[1:]}".replace("_", "-")
    (token,) = cluster.mint(1, username)
    ws_url = a.url.replace("http://", "ws://") + "/ws/echo/"

    async def scenario():
        async with connect(ws_url, additional_headers=bearer(token), open_timeout=TIMEOUT) as socket:
            await socket.send("ping")
            assert await socket.recv() == "ping"
            response = await asyncio.to_thread(ending, cluster, b, username, token)
            assert response.status_code == 200, response.text
            answered = time.monotonic()
            try:
                await asyncio.wait_for(socket.recv(), BOUND)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4001, closed
                return time.monotonic() - answered
            except TimeoutError:
                raise AssertionError(f"still open {BOUND} s after the {ending.__name__[1:]} was answered") from None
            raise AssertionError("the socket sent something instead of closing")

    asyncio.run(scenario())

    async def reconnect():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url, additional_headers=bearer(token), open_timeout=TIMEOUT):
                pass
        return refused.value.response

    response = asyncio.run(reconnect())
    assert response.status_code == 401
    assert json.loads(response.body)["code"] == "token_not_valid"


def test_the_core_contract_holds_over_asgi(bus, pairs):
    a, b = pairs("asgi")
    username = "asgi-core"
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        registered = on_a.post(
            "/api/auth/register/", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        pair = on_b.post("/api/auth/login/", json={"username": username, "password": PASSWORD}).json()
        assert on_a.get("/api/auth/me/", headers=bearer(pair["access"])).json()["username"] == username
        rotated = on_a.post("/api/auth/token/refresh/", json={"refresh": pair["refresh"]})
        assert rotated.status_code == 200, rotated.text
        fresh = rotated.json()
        assert on_b.post("/api/auth/token/verify/", json={"token": fresh["access"]}).status_code == 200
        assert on_b.post("/api/auth/logout/", json={"refresh": fresh["refresh"]}).status_code == 200
        for route in ROUTES:
            assert on_a.get(route, headers=bearer(fresh["access"])).status_code == 401, route
        refused = on_a.post("/api/auth/token/refresh/", json={"refresh": fresh["refresh"]})
        assert refused.status_code == 401 and refused.json()["detail"] == "Token is blacklisted"
