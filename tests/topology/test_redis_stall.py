"""
Logouts hold through a stalled Redis: gunicorn servers A and B (one worker each) on
PostgreSQL and a `redis-server` of this test's own, run the next-request loop — a request
to B (B caches the session), a logout on A, at once the same access token to B — while
Redis stalls now and then: `CLIENT PAUSE 3000 ALL` (what a failover does), or SIGSTOP on
redis-server for 3 s. A logout answered by A must be refused by B on the very next
request: 0 accepted. (Only this test's own redis-server is ever paused or stopped.)

The number of rounds is AUTHGATE_TEST_NEXT_REQUEST_ROUNDS (default 1000); a stall starts
every quarter of them (every half in a shortened loop: each stall costs seconds of
waiting), right after B cached the round's session.
"""

import os
import signal
import threading

import httpx
import pytest

from ..topology.test_revocation import Bus, bearer, proves_cache, wait_until_cached
from ..support.topology import (
    RedisServer,
    create_database,
    drop_database,
    manage,
    postgres_url,
    require,
    server_environment,
)

# 1000 rounds with four stalls on a busy machine take minutes: more than the default limit.
pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(1800)]

ROUNDS = int(os.environ.get("AUTHGATE_TEST_NEXT_REQUEST_ROUNDS", "1000"))
STALLS = 4 if ROUNDS >= 1000 else 2
STALL_SECONDS = 3
TIMEOUT = 60


@pytest.fixture(scope="module")
def stalling_bus(tmp_path_factory):
    require("postgres", "gunicorn", "redis-server")
    dbname = create_database("authgate_stall")
    redis_server = RedisServer().start()
    try:
        env = server_environment(
            postgres_url(dbname), redis_server.url, AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var-stall"))
        )
        manage(env, "migrate", "--noinput")
        bus = Bus("redis", env, postgres_url(dbname))
        bus.redis = redis_server
        yield bus
        bus.stop()
    finally:
        redis_server.kill()
        drop_database(dbname)


def pause_clients(redis_server):
    """CLIENT PAUSE … ALL on this test's own redis-server; it lifts itself."""
    redis_server.client().execute_command("CLIENT", "PAUSE", STALL_SECONDS * 1000, "ALL")
    return None


def stop_process(redis_server):
    """SIGSTOP this test's own redis-server; a timer sends SIGCONT."""
    pid = redis_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(STALL_SECONDS, os.kill, (pid, signal.SIGCONT))
    timer.start()
    return timer


def next_request_loop(bus, stall):
    """ROUNDS rounds with STALLS stalls; returns the rounds whose revoked token B accepted."""
    a, b = bus.start(), bus.start()
    tokens = bus.mint(ROUNDS + 1)
    accepted = []
    timers = []
    every = max(1, ROUNDS // STALLS)
    try:
        with (
            httpx.Client(base_url=a.url, timeout=TIMEOUT) as on_a,
            httpx.Client(base_url=b.url, timeout=TIMEOUT) as on_b,
        ):
            probe = tokens.pop()
            wait_until_cached(on_b, probe, proves_cache(bus, probe, on_b))
            for i, token in enumerate(tokens):
                assert on_b.get("/api/protected/", headers=bearer(token)).status_code == 200  # B caches it
                if i % every == every // 2:
                    timers.append(stall(bus.redis))
                assert on_a.post("/api/auth/logout/", headers=bearer(token)).status_code == 200
                response = on_b.get("/api/protected/", headers=bearer(token))
                if response.status_code != 401:
                    accepted.append((i, response.status_code))
    finally:
        for timer in timers:
            if timer is not None:
                timer.join()
        if bus.redis.process is not None and bus.redis.process.poll() is None:
            os.kill(bus.redis.process.pid, signal.SIGCONT)  # never leave it stopped
        bus.stop()
        bus.servers.clear()
    return accepted, len(tokens)


def test_no_revoked_token_is_accepted_while_redis_clients_are_paused(stalling_bus):
    accepted, rounds = next_request_loop(stalling_bus, pause_clients)
    assert accepted == [], f"{len(accepted)} of {rounds} revoked tokens accepted under CLIENT PAUSE: {accepted}"


def test_no_revoked_token_is_accepted_while_redis_server_is_stopped(stalling_bus):
    accepted, rounds = next_request_loop(stalling_bus, stop_process)
    assert accepted == [], f"{len(accepted)} of {rounds} revoked tokens accepted under SIGSTOP: {accepted}"
