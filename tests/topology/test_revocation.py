"""
"The very next request" with per-process caches, for real: gunicorn servers A and B (one
worker each, so that B's only process has the session in its cache) on each bus —
Redis pub/sub, PostgreSQL LISTEN/NOTIFY, and the SQLite same-host file — and the faults
each bus must survive without ever accepting a revoked token:

- 1000 x (a request to B, so B caches the session; logout on A; at once the same access
  token to B): 0 accepted;
- a user deleted by another process while B has their sessions cached: refused at once;
- Redis killed; the LISTEN connection terminated (pg_terminate_backend); a process started
  after a logout (forked from a preloaded master); a subscriber that stops reading.

The number of rounds is AUTHGATE_TEST_NEXT_REQUEST_ROUNDS (default 1000).
"""

import json
import os
import signal
import time

import httpx
import psycopg
import pytest

from ..support.topology import (
    Gunicorn,
    RedisServer,
    create_database,
    drop_database,
    manage,
    postgres_url,
    require,
    server_environment,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

ROUNDS = int(os.environ.get("AUTHGATE_TEST_NEXT_REQUEST_ROUNDS", "1000"))
TIMEOUT = 60

MINT = """
import json
from django.contrib.auth import get_user_model
from authgate.sessions import open_session
user, _ = get_user_model().objects.get_or_create(username="nextreq", defaults={"email": "n@example.com"})
pairs = [open_session(user, device=f"d{i}")[1] for i in range(%d)]
print("TOKENS" + json.dumps([p.access for p in pairs]))
"""


MINT_FOR = MINT.replace('"nextreq"', "%r").replace('"n@example.com"', '"gone@example.com"')

DELETE_USER = """
from django.contrib.auth import get_user_model
print("DELETED", get_user_model().objects.filter(username=%r).delete()[0])
"""


class Bus:
    """One database (+ Redis) and the servers started on it."""

    def __init__(self, name, env, database_url=None):
        self.name = name
        self.env = env
        self.database_url = database_url
        self.servers = []

    def start(self, workers=1, preload=False):
        server = Gunicorn(self.env, workers=workers, threads=1, args=["--preload"] if preload else []).start()
        self.servers.append(server)
        return server

    def mint(self, count):
        out = manage(self.env, "shell", "-c", MINT % count)
        return json.loads(out.split("TOKENS", 1)[1])

    def mint_for(self, username, count):
        out = manage(self.env, "shell", "-c", MINT_FOR % (username, count))
        return json.loads(out.split("TOKENS", 1)[1])

    def stop(self):
        for server in self.servers:
            server.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def wait_until_cached(client, token, check):
    """Ask until the server answers from its cache (its bus trusted): `check()` says so."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert client.get("/api/protected/", headers=bearer(token)).status_code == 200
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("the server never answered from its session cache")


@pytest.fixture(scope="module", params=["redis", "postgres", "sqlite"])
def bus(request, tmp_path_factory):
    require("postgres", "gunicorn")
    var = tmp_path_factory.mktemp(f"var-{request.param}")
    redis_server = dbname = None
    try:
        if request.param == "sqlite":
            env = server_environment(f"sqlite:///{var / 'db.sqlite3'}", AUTHGATE_VAR_DIR=str(var))
            database_url = None
        else:
            dbname = create_database("authgate_bus")
            database_url = postgres_url(dbname)
            redis_url = None
            if request.param == "redis":
                require("redis-server")
                redis_server = RedisServer().start()
                redis_url = redis_server.url
            env = server_environment(database_url, redis_url, AUTHGATE_VAR_DIR=str(var))
        manage(env, "migrate", "--noinput")
        current = Bus(request.param, env, database_url)
        current.redis = redis_server
        yield current
        current.stop()
    finally:
        if redis_server:
            redis_server.kill()
        if dbname:
            drop_database(dbname)


@pytest.fixture
def cluster(bus):
    """The bus, whose servers started by the test are stopped after it."""
    yield bus
    bus.stop()
    bus.servers.clear()


def proves_cache(bus, token_for_probe, client):
    """A check that B answered from memory: end the probe's session behind every bus's back
    (raw SQL with the notify triggers off) and see B still accept it."""

    def check():
        sid = json_claims(token_for_probe)["sid"]
        end_behind_the_back(bus, sid)
        try:
            return client.get("/api/protected/", headers=bearer(token_for_probe)).status_code == 200
        finally:
            end_behind_the_back(bus, sid, undo=True)

    return check


def json_claims(token):
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


def end_behind_the_back(bus, sid, undo=False):
    value = "NULL" if undo else "CURRENT_TIMESTAMP"
    if bus.database_url:
        with psycopg.connect(bus.database_url) as conn:
            conn.execute("ALTER TABLE authgate_session DISABLE TRIGGER authgate_session_changed")
            conn.execute(f"UPDATE authgate_session SET ended_at = {value} WHERE id = %s", (sid,))
            conn.execute("ALTER TABLE authgate_session ENABLE TRIGGER authgate_session_changed")
    else:
        import sqlite3

        path = bus.env["DATABASE_URL"].removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute(f"UPDATE authgate_session SET ended_at = {value} WHERE replace(id, '-', '') = ?", (sid,))


def test_the_very_next_request_after_a_logout_is_refused_by_another_process(cluster):
    bus = cluster
    a, b = bus.start(), bus.start()
    tokens = bus.mint(ROUNDS + 1)
    accepted = []
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        probe = tokens.pop()
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        for i, token in enumerate(tokens):
            assert on_b.get("/api/protected/", headers=bearer(token)).status_code == 200  # B caches it
            assert on_a.post("/api/auth/logout/", headers=bearer(token)).status_code == 200
            response = on_b.get("/api/protected/", headers=bearer(token))
            if response.status_code != 401:
                accepted.append((i, response.status_code))
    assert accepted == [], f"{len(accepted)} of {len(tokens)} revoked tokens accepted on {bus.name}"


def test_a_process_started_after_a_logout_refuses_the_token(cluster):
    bus = cluster
    a = bus.start()
    (token,) = bus.mint(1)
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a:
        assert on_a.get("/api/protected/", headers=bearer(token)).status_code == 200
        assert on_a.post("/api/auth/logout/", headers=bearer(token)).status_code == 200
    late = bus.start(workers=2, preload=True)  # workers forked from a master that imported the app
    with httpx.Client(base_url=late.url, timeout=TIMEOUT) as on_late:
        for _ in range(4):
            assert on_late.get("/api/protected/", headers=bearer(token)).status_code == 401


def worker_pid(server):
    children = server.workers_pids()
    assert len(children) == 1, children
    return children[0]


def test_a_user_deleted_by_another_process_is_refused_at_once_where_their_sessions_were_cached(cluster):
    bus = cluster
    b = bus.start()
    (probe,) = bus.mint(1)
    doomed = bus.mint_for("deleted-meanwhile", 2)
    with httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        for token in doomed:
            assert on_b.get("/api/protected/", headers=bearer(token)).status_code == 200  # B caches them
        assert proves_cache(bus, doomed[0], on_b)()
        assert "DELETED" in manage(bus.env, "shell", "-c", DELETE_USER % "deleted-meanwhile")  # another process
        for token in doomed:
            response = on_b.get("/api/protected/", headers=bearer(token))
            assert response.status_code == 401, response.text
            assert response.headers["content-type"] == "application/json"
            assert (response.json()["code"], response.json()["reason"]) == ("token_not_valid", "revoked")
        response = on_b.post("/api/auth/logout/", headers=bearer(doomed[0]))
        assert (response.status_code, response.json()["reason"]) == (401, "revoked")
        assert on_b.get("/api/protected/", headers=bearer(probe)).status_code == 200  # nobody else


def test_a_subscriber_that_stops_reading_accepts_no_revoked_token(cluster):
    bus = cluster
    if bus.name == "sqlite":
        pytest.skip("the SQLite file has no subscription to fall behind on")
    a, b = bus.start(), bus.start()
    doomed, probe = bus.mint(2)
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 200
        pid = worker_pid(b)
        os.kill(pid, signal.SIGSTOP)  # B reads nothing for a while
        try:
            if bus.name == "redis":
                # More than its output buffer may hold: Redis disconnects the slow subscriber.
                flood = bus.redis.client()
                flood.config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
                for _ in range(4000):
                    flood.publish("authgate:revocation", "x" * 1024)
            assert on_a.post("/api/auth/logout/", headers=bearer(doomed)).status_code == 200
        finally:
            os.kill(pid, signal.SIGCONT)
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 401
        # And it recovers: the cache is trusted again later.
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))


def test_redis_killed_no_revoked_token_is_accepted(cluster):
    bus = cluster
    if bus.name != "redis":
        pytest.skip("Redis only")
    a, b = bus.start(), bus.start()
    doomed, probe = bus.mint(2)
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 200
        bus.redis.kill()
        try:
            # The logout cannot be published; B lost its subscription and asks the database.
            assert on_a.post("/api/auth/logout/", headers=bearer(doomed)).status_code == 200
            assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 401
            assert on_b.get("/api/protected/", headers=bearer(probe)).status_code == 200
            health = on_b.get("/api/health/").json()
            assert health["redis"] == "down"
        finally:
            bus.redis.start()
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 401


def test_listen_connection_terminated_no_revoked_token_is_accepted(cluster):
    bus = cluster
    if bus.name != "postgres":
        pytest.skip("PostgreSQL LISTEN/NOTIFY only")
    a, b = bus.start(), bus.start()
    doomed, probe = bus.mint(2)
    with httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a, httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b:
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 200
        with psycopg.connect(bus.database_url, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'authgate-revocation-listener' AND datname = current_database()"
            ).fetchall()
        assert killed
        # Ended while nobody listens: B must not believe its cache any more.
        assert on_a.post("/api/auth/logout/", headers=bearer(doomed)).status_code == 200
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 401
        wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
        assert on_b.get("/api/protected/", headers=bearer(doomed)).status_code == 401
