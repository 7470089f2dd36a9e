"""
A Redis failover through Sentinel, for real: this test's own primary and replica
(`redis-server`) and three `redis-server --sentinel` processes on loopback ports, two
gunicorn servers A and B (one worker each) that find the primary through the sentinels
(REDIS_SENTINELS, REDIS_SENTINEL_MASTER), on a throw-away PostgreSQL database.

While the primary is killed and the sentinels promote the replica, a logout through A is
repeatedly followed at once by the same token at B:

- no revoked token is accepted (B distrusts its cache while its subscription is down and
  asks the database);
- no revocation is lost: every logout answered 200 stays refused on both servers;
- B answers from its cache again once the new primary is elected, and hears A's next
  logout through it on the very next request.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support.services import RedisSentinel, RedisServer
from ..support.topology import (
    Gunicorn,
    create_database,
    drop_database,
    manage,
    postgres_url,
    require,
    server_environment,
    wait_until,
)
from .common import bearer, end_behind_the_back

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

MASTER = "authgate-test"
PASSWORD = "correct-horse-battery-9"
TIMEOUT = 30.0


class Stack:
    def __init__(self, primary: RedisServer, replica: RedisServer, sentinels: list[RedisSentinel]) -> None:
        self.primary, self.replica, self.sentinels = primary, replica, sentinels
        self.database_url = ""
        self.a: Gunicorn | None = None
        self.b: Gunicorn | None = None

    def master_port(self) -> int | None:
        """The primary's port as a majority of the sentinels sees it."""
        seen = [s.master() for s in self.sentinels]
        ports = [m[1] for m in seen if m]
        for port in set(ports):
            if ports.count(port) >= 2:
                return port
        return None


def replicating(replica: RedisServer) -> bool:
    info = replica.client().info("replication")
    return bool(info.get("master_link_status") == "up")


def sentinels_ready(stack: Stack) -> bool:
    """Every sentinel sees the replica and the two other sentinels (a failover can be agreed)."""
    import redis

    for s in stack.sentinels:
        try:
            client = redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=1)
            if len(client.sentinel_slaves(MASTER)) < 1 or len(client.sentinel_sentinels(MASTER)) < 2:
                return False
        except redis.RedisError:
            return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require("postgres", "redis-server", "gunicorn")
    workdir = Path(tempfile.mkdtemp(prefix="authgate-sentinel-"))
    primary = RedisServer(extra_args=["--dir", str(workdir)]).start()
    replica = RedisServer(extra_args=["--replicaof", "127.0.0.1", str(primary.port), "--dir", str(workdir)]).start()
    sentinels: list[RedisSentinel] = []
    current = Stack(primary, replica, sentinels)
    dbname = create_database("authgate_sentinel")
    try:
        wait_until(lambda: replicating(replica), 30, "the replica in sync")
        for _ in range(3):
            sentinels.append(RedisSentinel(MASTER, primary.port, workdir).start())
        wait_until(lambda: sentinels_ready(current), 60, "the sentinels seeing the replica and each other")
        env = server_environment(
            postgres_url(dbname),
            f"redis://127.0.0.1:{primary.port}/0",
            AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
            REDIS_SENTINELS=",".join(s.address for s in sentinels),
            REDIS_SENTINEL_MASTER=MASTER,
            AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m",
            AUTHGATE_LOGIN_THROTTLE_IP="1000/15m",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        current.database_url = postgres_url(dbname)
        current.a = Gunicorn(env, workers=1).start()
        current.b = Gunicorn(env, workers=1).start()
        yield current
    finally:
        for server in (current.a, current.b):
            if server:
                server.stop()
        for s in sentinels:
            s.kill()
        replica.kill()
        primary.kill()
        drop_database(dbname)
        shutil.rmtree(workdir, ignore_errors=True)


def login(url: str, count: int) -> list[dict[str, str]]:
    httpx.post(
        f"{url}/api/auth/register/",
        json={"username": "failover", "email": "failover@example.com", "password": PASSWORD},
        timeout=TIMEOUT,
    )
    out = []
    for _ in range(count):
        response = httpx.post(
            f"{url}/api/auth/login/", json={"username": "failover", "password": PASSWORD}, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def cached_and_trusted(stack: Stack, client: httpx.Client, access: str) -> bool:
    """One request (B caches the session), then True when B accepts it while it is ended
    behind every bus's back: B answered from memory, so it trusts its subscription."""
    assert client.get("/api/protected/", headers=bearer(access)).status_code == 200
    end_behind_the_back(stack.database_url, access)
    try:
        return client.get("/api/protected/", headers=bearer(access)).status_code == 200
    finally:
        end_behind_the_back(stack.database_url, access, undo=True)


def test_a_sentinel_failover_loses_no_revocation_and_lets_no_revoked_token_in(stack: Stack) -> None:
    assert stack.a and stack.b
    sessions = login(stack.a.url, 20)
    probe = sessions.pop()
    accepted: list[str] = []
    logged_out: list[dict[str, str]] = []
    with (
        httpx.Client(base_url=stack.a.url, timeout=TIMEOUT) as on_a,
        httpx.Client(base_url=stack.b.url, timeout=TIMEOUT) as on_b,
    ):
        wait_until(lambda: cached_and_trusted(stack, on_b, probe["access"]), 30, "B answering from its cache")

        def round_trip(pair: dict[str, str]) -> None:
            """B caches the session; A logs it out; at once B is asked again."""
            if on_b.get("/api/protected/", headers=bearer(pair["access"])).status_code != 200:
                accepted.append(f"{pair['session_id']}: refused before its logout")
            response = on_a.post("/api/auth/logout/", headers=bearer(pair["access"]))
            assert response.status_code == 200, response.text
            logged_out.append(pair)
            if on_b.get("/api/protected/", headers=bearer(pair["access"])).status_code != 401:
                accepted.append(f"{pair['session_id']}: accepted by B after its logout through A")

        for pair in sessions[:3]:
            round_trip(pair)
        old_primary = stack.primary.port
        stack.primary.kill()
        killed_at = time.monotonic()
        remaining = sessions[3:-2]
        # Logouts all through the failover (and after it), each checked at once on B.
        while len(remaining) > 4 and stack.master_port() in (None, old_primary):
            round_trip(remaining.pop())
        wait_until(lambda: stack.master_port() == stack.replica.port, 60, "the sentinels promoting the replica")
        promoted_at = time.monotonic()
        for pair in remaining:
            round_trip(pair)
        # Trusted again, through the new primary, within seconds.
        wait_until(lambda: cached_and_trusted(stack, on_b, probe["access"]), 30, "B trusting its cache again")
        trusted_after = time.monotonic() - promoted_at
        # A logout through A reaches B through the new primary: refused on the next request.
        round_trip(sessions[-1])
        round_trip(sessions[-2])
        assert accepted == []
        for pair in logged_out:
            for client in (on_a, on_b):
                assert client.get("/api/protected/", headers=bearer(pair["access"])).status_code == 401
        print(
            f"failover: promoted {promoted_at - killed_at:.1f} s after the kill; "
            f"B trusted its cache again {trusted_after:.1f} s after the promotion"
        )
