"""
PostgreSQL restarted under load, for real: this test's own cluster (`initdb` in a temporary
directory, on a free port; the machine's shared server is never touched), two gunicorn
servers A and B on it (the LISTEN/NOTIFY bus, one worker each), clients refreshing, calling
a protected route and logging out on both while the cluster is stopped and started again.

- while it is down every answer is a JSON 503 (`database_unavailable`), none hangs;
- after it is back, 5xx stop by themselves within the fault window's grace (5 s);
- B's LISTEN connection comes back: B answers from its session cache again, and a logout
  through A is refused by B on the very next request;
- nothing answered 200 is lost: each logout answered 200 stays refused on both servers,
  each refresh answered 200 left a pair that still works, no valid credential got a 401.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from ..support.services import PostgresCluster
from ..support.traffic import Credentials, Ledger
from ..support.topology import Gunicorn, manage, require, server_environment, wait_until
from .common import bearer, end_behind_the_back

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

PASSWORD = "correct-horse-battery-9"
CLIENTS = 4
RECOVERY_SECONDS = 5.0  # 5xx allowed until this long after the database is back
TIMEOUT = 30.0  # a request left without an answer this long: a fault that does not fail fast


class Stack:
    def __init__(self, cluster: PostgresCluster, database_url: str, a: Gunicorn, b: Gunicorn) -> None:
        self.cluster, self.database_url, self.a, self.b = cluster, database_url, a, b
        self.servers = {"A": a, "B": b}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require("postgres-programs", "gunicorn")
    cluster = PostgresCluster().init().start()
    servers: list[Gunicorn] = []
    try:
        database_url = cluster.create_database("authgate_restart")
        env = server_environment(
            database_url,
            AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
            AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m",
            AUTHGATE_LOGIN_THROTTLE_IP="1000/15m",
            DATABASE_CONNECT_TIMEOUT="2",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        for _ in range(2):
            servers.append(Gunicorn(env, workers=1, threads=2).start())
        yield Stack(cluster, database_url, *servers)
    finally:
        for server in servers:
            server.stop()
        cluster.destroy()


def open_sessions(server: Gunicorn, count: int) -> list[Credentials]:
    username = "restart"
    httpx.post(
        f"{server.url}/api/auth/register/",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=60,
    )
    out = []
    for i in range(count):
        response = httpx.post(
            f"{server.url}/api/auth/login/", json={"username": username, "password": PASSWORD}, timeout=60
        )
        assert response.status_code == 200, response.text
        body = response.json()
        out.append(Credentials(f"s{i}", body["access"], body["refresh"]))
    return out


def answers_from_its_cache(stack: Stack, client: httpx.Client, access: str) -> bool:
    """True when the server accepts a session just ended behind every bus's back: it
    answered from memory, so it trusts its cache (its LISTEN connection is up)."""
    end_behind_the_back(stack.database_url, access)
    try:
        return client.get("/api/protected/", headers=bearer(access)).status_code == 200
    finally:
        end_behind_the_back(stack.database_url, access, undo=True)


class Load:
    """CLIENTS threads, each holding one session, over both servers until `stop`."""

    def __init__(self, stack: Stack, ledger: Ledger, live: list[Credentials], spares: list[Credentials]) -> None:
        self.stack, self.ledger, self.live, self.spares = stack, ledger, live, spares
        self.revoked: list[Credentials] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def call(
        self, client: httpx.Client, name: str, kind: str, method: str, path: str, label: str = "", **kwargs: Any
    ) -> Any:
        sent = time.monotonic()
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.ledger.failure(kind, name, sent, exc)
            return None
        self.ledger.record(kind, name, sent, response, note=label)
        return response

    def run(self, index: int) -> None:
        """A client as a real one behaves: after a 5xx (or no answer) to a logout or a
        refresh, whose outcome it cannot know, it sends the same request again before
        anything else (a logout then answered 401 was done by the first attempt)."""
        clients = {name: httpx.Client(base_url=s.url, timeout=TIMEOUT) for name, s in self.stack.servers.items()}
        creds = self.live[index]
        # The session this client goes on with once its logout is settled: taken from the
        # spares before the logout starts, so that every client always holds a live session.
        successor: Credentials | None = None
        pending = ""
        n = 0
        try:
            while pending or not self.stop.is_set():  # an unknown outcome is settled first
                n += 1
                name = "AB"[(n // 2 + index) % 2]
                client = clients[name]
                if not pending and n % 11 == 0:
                    with self.lock:
                        successor = self.spares.pop() if self.spares else None
                    if successor is not None:
                        pending = "logout-new"
                if pending.startswith("logout"):
                    retry = pending == "logout"
                    r = self.call(
                        client, name, "logout", "POST", "/api/auth/logout/", creds.label, headers=bearer(creds.access)
                    )
                    pending = "logout" if r is None or r.status_code >= 500 else ""
                    if r is not None and r.status_code in (200, 401):
                        if r.status_code == 401 and not retry:
                            self.ledger.problem(f"{creds.label}: logout refused on {name}: {r.text[:200]}")
                        creds.logged_out_at = time.monotonic()
                        assert successor is not None
                        with self.lock:
                            self.revoked.append(creds)
                        creds, successor = successor, None
                elif pending == "refresh" or (not pending and n % 4 == 0):
                    r = self.call(
                        client,
                        name,
                        "refresh",
                        "POST",
                        "/api/auth/token/refresh/",
                        creds.label,
                        json={"refresh": creds.refresh},
                    )
                    pending = "refresh" if r is None or r.status_code >= 500 else ""
                    if r is not None and r.status_code == 200:
                        body = r.json()
                        creds.retired.append(creds.refresh)
                        creds.access, creds.refresh = body["access"], body["refresh"]
                    elif r is not None and r.status_code == 401:
                        self.ledger.problem(f"{creds.label}: refresh refused on {name}: {r.text[:200]}")
                elif n % 5 == 0 and self.revoked:
                    gone = self.revoked[n % len(self.revoked)]
                    sent = time.monotonic()
                    r = self.call(client, name, "probe", "GET", "/api/protected/", headers=bearer(gone.access))
                    if r is not None and r.status_code == 200 and gone.logged_out_at and gone.logged_out_at < sent:
                        self.ledger.problem(f"{gone.label}: accepted on {name} after its logout was answered")
                else:
                    r = self.call(
                        client, name, "protected", "GET", "/api/protected/", creds.label, headers=bearer(creds.access)
                    )
                    if r is not None and r.status_code == 401:
                        self.ledger.problem(f"{creds.label}: valid access refused on {name}: {r.text[:200]}")
                time.sleep(0.01)
        finally:
            with self.lock:
                self.live[index] = creds
            for c in clients.values():
                c.close()


def test_a_database_restart_under_load_answers_json_503_then_recovers_by_itself(stack: Stack) -> None:
    sessions = open_sessions(stack.a, CLIENTS + 8)
    live, spares = sessions[:CLIENTS], sessions[CLIENTS:]
    ledger = Ledger(grace=RECOVERY_SECONDS)
    load = Load(stack, ledger, live, spares)
    threads = [threading.Thread(target=load.run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(ledger.outcomes) >= 40, 60, "some traffic before the fault")
        with ledger.fault("postgres restart"):
            stack.cluster.stop()
            # Down: both servers answer the JSON 503 (not a hang, not HTML) from the load.
            wait_until(
                lambda: {o.server for o in ledger.outcomes if o.status == 503} == {"A", "B"},
                60,
                "a 503 from each server while the database is down",
            )
            stack.cluster.start()
        # Recovered by itself: every kind of request succeeds again on both servers.
        wait_until(
            lambda: (
                {(o.server, o.kind) for o in ledger.outcomes if o.status == 200 and o.sent > ledger.windows[0].end}
                >= {("A", "protected"), ("B", "protected"), ("A", "refresh"), ("B", "refresh")}
            ),
            60,
            "200s from both servers after the restart",
        )
        time.sleep(1)  # a little more load after the recovery
    finally:
        load.stop.set()
        for t in threads:
            t.join(60)

    statuses_down = [o for o in ledger.outcomes if o.status >= 500]
    assert statuses_down, "the load never met the database down"
    assert {o.code for o in statuses_down} == {"database_unavailable"}
    violations = ledger.violations()
    if violations:
        t0 = ledger.outcomes[0].sent
        timeline = [
            f"{o.sent - t0:7.3f} {o.done - t0:7.3f} {o.server} {o.kind:9} {o.status} {o.code} {o.note}"
            for o in ledger.outcomes
            if o.note and o.note in violations[0].split(":")[0]
        ]
        w = ledger.windows[0]
        pytest.fail(
            "\n".join(violations + [f"window {w.start - t0:.3f}..{(w.end or 0) - t0:.3f}"] + timeline), pytrace=False
        )

    with (
        httpx.Client(base_url=stack.a.url, timeout=TIMEOUT) as on_a,
        httpx.Client(base_url=stack.b.url, timeout=TIMEOUT) as on_b,
    ):
        # Nothing answered 200 is lost: every logout holds, every live pair works.
        assert load.revoked, "no logout was answered during the run"
        for gone in load.revoked:
            for client in (on_a, on_b, on_a, on_b):
                assert client.get("/api/protected/", headers=bearer(gone.access)).status_code == 401
            assert on_a.post("/api/auth/token/refresh/", json={"refresh": gone.refresh}).status_code == 401
        for creds in load.live:
            for client in (on_a, on_b):
                response = client.get("/api/protected/", headers=bearer(creds.access))
                history = [f"{o.kind} {o.server} {o.status} {o.code}" for o in ledger.outcomes if o.note == creds.label]
                assert response.status_code == 200, (creds.label, response.text, history[-8:])
        # B's LISTEN connection is back: it trusts its cache again...
        probe = load.live[0]
        wait_until(lambda: answers_from_its_cache(stack, on_b, probe.access), 30, "B answering from its cache")
        # ...and hears a logout through A at once.
        doomed = load.live[1]
        assert on_b.get("/api/protected/", headers=bearer(doomed.access)).status_code == 200
        assert on_a.post("/api/auth/logout/", headers=bearer(doomed.access)).status_code == 200
        assert on_b.get("/api/protected/", headers=bearer(doomed.access)).status_code == 401
        for creds in load.live[2:]:
            response = on_a.post("/api/auth/token/refresh/", json={"refresh": creds.refresh})
            assert response.status_code == 200, response.text
