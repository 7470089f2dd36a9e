"""
A gunicorn worker killed with SIGKILL in the middle of refreshes and logouts, for real:
one server (two workers, two threads each) on a throw-away PostgreSQL database with this
test's own `redis-server` as the bus.

- no refresh family forks: every 200 answered for one presented refresh token carries the
  same pair, and each session's generation in the database is one more than the rotations
  its client saw (a client that got no answer sends the same token again, as a real one
  does, and gets the winner's pair inside the retry window; a retry that a loaded machine
  delays past the window ends the session as reuse, by design, and is set aside);
- no logout answered 200 is forgotten: each such token is refused by every worker,
  the replacements included;
- the master replaces the worker, and the replacement's cache starts cold (a session ended
  behind every bus's back, still served from the killed worker's memory, is refused by
  the replacement) and untrusted (with Redis down it answers nothing from memory).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict
from typing import Any

import httpx
import psycopg
import pytest

from ..support.services import RedisServer
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

PASSWORD = "correct-horse-battery-9"
CLIENTS = 4
KILLS = 3
TIMEOUT = 120.0  # generous: a loaded machine; a timeout is a failure, never retried
RETRY_WINDOW = 10.0  # REFRESH_RETRY_WINDOW (the default)


class Stack:
    def __init__(self, env: dict[str, str], database_url: str, redis: RedisServer) -> None:
        self.env, self.database_url, self.redis = env, database_url, redis

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require("postgres", "redis-server", "gunicorn")
    redis = RedisServer().start()
    dbname = create_database("authgate_killed")
    try:
        env = server_environment(
            postgres_url(dbname),
            redis.url,
            AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
            AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m",
            AUTHGATE_LOGIN_THROTTLE_IP="1000/15m",
        )
        manage(env, "migrate", "--noinput")
        yield Stack(env, postgres_url(dbname), redis)
    finally:
        redis.kill()
        drop_database(dbname)


def login(url: str, username: str) -> dict[str, str]:
    """Register (once) and log in; a login whose answer died with a worker is sent again
    (the orphaned session it may have opened is harmless)."""
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        until_answered(
            client,
            "POST",
            "/api/auth/register/",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        response = until_answered(client, "POST", "/api/auth/login/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def kill_a_worker(server: Gunicorn) -> None:
    """SIGKILL one worker; return once the master has a replacement running."""
    before = server.workers_pids()
    assert len(before) == server.workers, before
    os.kill(before[0], signal.SIGKILL)
    wait_until(
        lambda: before[0] not in server.workers_pids() and len(server.workers_pids()) == server.workers,
        60,
        "the master replacing the killed worker",
    )


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """One request; None when the connection died with the worker (no answer). A timeout is
    not retried: the request may still be running, and sending it again would race it."""
    try:
        return client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise
    except httpx.TransportError:
        return None


def until_answered(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """What a client does with a request left without an answer: the same again. The
    answer carries `late`: seconds from the first attempt to it when one went unanswered."""
    first = time.monotonic()
    for attempt in range(20):
        response = send(client, method, path, **kwargs)
        if response is not None:
            response.extensions["late"] = time.monotonic() - first if attempt else 0.0
            return response
        time.sleep(0.05)
    raise AssertionError(f"{method} {path}: no answer after 20 attempts")


def test_workers_killed_amid_refreshes_and_logouts_fork_no_chain_and_forget_no_logout(stack: Stack) -> None:
    server = Gunicorn(stack.env, workers=2, threads=2).start()
    try:
        sessions = [login(server.url, f"killed{i}") for i in range(CLIENTS)]
        answers: dict[str, set[tuple[str, str]]] = defaultdict(set)  # presented refresh -> pairs answered
        rotations: dict[str, int] = defaultdict(int)  # session id -> rotations seen by its client
        late: set[str] = set()  # sessions ended because a retry came after the retry window
        logged_out: list[dict[str, str]] = []
        problems: list[str] = []
        stop = threading.Event()

        def client_loop(i: int) -> None:
            try:
                refresh_and_logout(i)
            except Exception as exc:  # noqa: BLE001 — reported below, not lost in the thread
                problems.append(f"client {i}: {exc!r}")

        def refresh_and_logout(i: int) -> None:
            pair = sessions[i]
            with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    presented = pair["refresh"]
                    # Two refreshes of one token at once (as two tabs would), then its logout now and then.
                    results: list[httpx.Response] = []
                    threads = [
                        threading.Thread(
                            target=lambda out=results, token=presented: out.append(
                                until_answered(client, "POST", "/api/auth/token/refresh/", json={"refresh": token})
                            )
                        )
                        for _ in range(2)
                    ]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    ok = [r.json() for r in results if r.status_code == 200]
                    if not ok and max(r.extensions["late"] for r in results) > RETRY_WINDOW:
                        # The token went unanswered with the worker and its retry came after
                        # REFRESH_RETRY_WINDOW (a loaded machine): reuse, by design. No fork.
                        late.add(pair["session_id"])
                        pair = sessions[i] = login(server.url, f"killed{i}")
                        continue
                    if not ok or any(r.status_code not in (200, 401) for r in results):
                        problems.append(f"refresh of {pair['session_id']}: {[r.text[:120] for r in results]}")
                        return
                    for body in ok:
                        answers[presented].add((body["access"], body["refresh"]))
                    rotations[pair["session_id"]] += 1
                    pair = {**pair, "access": ok[0]["access"], "refresh": ok[0]["refresh"]}
                    if n % 6 == 0:
                        response = until_answered(client, "POST", "/api/auth/logout/", headers=bearer(pair["access"]))
                        if response.status_code == 200:
                            logged_out.append(pair)
                        elif response.status_code != 401:  # 401: a lost answer's logout was done
                            problems.append(f"logout: {response.status_code} {response.text[:200]}")
                        pair = sessions[i] = login(server.url, f"killed{i}")

        workers = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
        for t in workers:
            t.start()
        try:
            for _ in range(KILLS):
                wait_until(lambda: problems or sum(rotations.values()) >= 10, 60, "refreshes in flight")
                rotations_before = sum(rotations.values())
                kill_a_worker(server)
                wait_until(
                    lambda before=rotations_before: problems or sum(rotations.values()) > before + 4,
                    60,
                    "refreshes after the kill",
                )
        finally:
            stop.set()
            for t in workers:
                t.join(120)

        assert problems == []
        forks = {token: pairs for token, pairs in answers.items() if len(pairs) > 1}
        assert forks == {}, f"{len(forks)} refresh tokens answered with more than one pair"
        for session_id, count in rotations.items():
            if session_id in late:
                continue
            ((generation,),) = stack.sql("SELECT generation FROM authgate_session WHERE id = %s", session_id)
            assert generation == count + 1, f"session {session_id}: {generation} generations, {count} rotations seen"
        assert logged_out, "no logout was answered during the run"
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
            for pair in logged_out:
                for _ in range(2 * server.workers):
                    assert client.get("/api/protected/", headers=bearer(pair["access"])).status_code == 401
                response = client.post("/api/auth/token/refresh/", json={"refresh": pair["refresh"]})
                assert response.status_code == 401
            for pair in sessions:
                assert client.get("/api/protected/", headers=bearer(pair["access"])).status_code == 200
    finally:
        server.stop()


def test_the_replacement_of_a_killed_worker_starts_cold_and_untrusted(stack: Stack) -> None:
    server = Gunicorn(stack.env, workers=1, threads=1).start()
    try:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
            cached, other = login(server.url, "cold"), login(server.url, "cold")
            # The worker answers `cached` from memory: ended behind the bus's back, still 200.
            assert client.get("/api/protected/", headers=bearer(cached["access"])).status_code == 200
            wait_until(
                lambda: _cached_and_trusted(stack, client, cached["access"]), 30, "the worker answering from memory"
            )
            end_behind_the_back(stack.database_url, cached["access"])
            assert client.get("/api/protected/", headers=bearer(cached["access"])).status_code == 200
            kill_a_worker(server)
            # Cold: the replacement reads the session and finds it ended.
            assert until_answered(client, "GET", "/api/protected/", headers=bearer(cached["access"])).status_code == 401

            # Untrusted: with Redis down it never answers from memory.
            stack.redis.kill()
            try:
                kill_a_worker(server)
                for _ in range(3):
                    assert client.get("/api/protected/", headers=bearer(other["access"])).status_code == 200
                end_behind_the_back(stack.database_url, other["access"])
                assert client.get("/api/protected/", headers=bearer(other["access"])).status_code == 401
                end_behind_the_back(stack.database_url, other["access"], undo=True)
            finally:
                stack.redis.start()
            # Trusted again once its bus is back.
            wait_until(lambda: _cached_and_trusted(stack, client, other["access"]), 30, "the cache trusted again")
    finally:
        server.stop()


def _cached_and_trusted(stack: Stack, client: httpx.Client, access: str) -> bool:
    """One request (the worker caches the session), then True when the worker accepts it
    while it is ended behind every bus's back: it answered from memory."""
    assert client.get("/api/protected/", headers=bearer(access)).status_code == 200
    end_behind_the_back(stack.database_url, access)
    try:
        return client.get("/api/protected/", headers=bearer(access)).status_code == 200
    finally:
        end_behind_the_back(stack.database_url, access, undo=True)
