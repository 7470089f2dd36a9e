"""
The soak's clients (bench/soak.py): one `Actor` per user, two devices (sessions) each,
and the bookkeeping they share (`Shared`).

Invariants an actor keeps: it is the only thread using its user's credentials (so its own
view of which are valid is exact, bar the parallel refresh it starts itself); a change
answered 5xx or not answered at all is sent again until it gets an answer (its outcome is
then known); a token is "revoked" from the moment its logout (password change, admin
logout) was answered 200, and any 200 for it after that moment is counted. A refresh refused as reuse
ends its session even when its parallel twin was answered 200: the actor then keeps no pair
of that session; the refusal is by design (not a lost session) only when the refused request
was a retry sent after REFRESH_RETRY_WINDOW. Each lost session is looked up in the database
after the run (its row: ended, with which reason, or gone).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.traffic import Ledger

TIMEOUT = 120.0  # generous (a loaded machine): a retried timeout would race the request still running
SETTLE_SECONDS = 120.0
RETRY_WINDOW = 10.0  # REFRESH_RETRY_WINDOW (the default)
# The server compares whole seconds (a token's `issued_at`), so a retry refused as reuse
# may have come as little as RETRY_WINDOW - 1 s after the rotation it repeats.
RETRY_WINDOW_RESOLUTION = 1.0
LATE_RETRY = RETRY_WINDOW - RETRY_WINDOW_RESOLUTION


@dataclass
class Shared:
    urls: list[str]
    staff: tuple[str, str]
    ledger: Ledger
    rng: random.Random
    revoked: list[tuple[str, float | None]] = field(default_factory=list)  # (access, answered 200 at)
    revoked_accepted: int = 0
    forks: int = 0
    late_retries: int = 0  # sessions ended as reuse: a lost refresh sent again after the window
    lost: int = 0
    examples: list[str] = field(default_factory=list)
    # (example, token) of each lost session: the run's end looks its session up in the database
    lost_tokens: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    staff_access: str = ""

    def count(self, what: str, example: str, token: str = "") -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)
            if len(self.examples) < 10:
                self.examples.append(f"{what}: {example}")
            if what == "lost" and token:
                self.lost_tokens.append((example, token))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Actor:
    def __init__(self, index: int, shared: Shared) -> None:
        self.shared = shared
        self.username = f"soak{index}"
        self.password = f"Soak-passphrase-{index}-0"
        self.changes = 0
        self.devices: list[dict[str, str]] = []
        self.user_id = 0
        self.rng = random.Random(index)
        # A new connection per request: a kept-alive one can be closed by the server's
        # keep-alive timeout just as a request goes out on it (no answer, through no fault),
        # and a request without an answer must mean a fault.
        fresh = httpx.Limits(max_keepalive_connections=0)
        self.clients = [httpx.Client(base_url=url, timeout=TIMEOUT, limits=fresh) for url in shared.urls]

    # -- requests ------------------------------------------------------------------------
    def send(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        index = self.rng.randrange(len(self.clients))
        sent = time.monotonic()
        try:
            response = self.clients[index].request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.shared.ledger.failure(kind, f"server{index}", sent, exc)
            return None
        self.shared.ledger.record(kind, f"server{index}", sent, response)
        return response

    def settle(self, kind: str, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, bool]:
        """Send until answered below 500; (answer, whether an earlier attempt went unanswered).
        The answer's extensions["late"]: seconds from the first attempt to it."""
        first = time.monotonic()
        deadline = first + SETTLE_SECONDS
        retried = False
        while True:
            response = self.send(kind, method, path, **kwargs)
            if response is not None and response.status_code < 500:
                response.extensions["late"] = time.monotonic() - first
                return response, retried
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind}: no answer below 500 for {SETTLE_SECONDS} s")
            retried = True
            time.sleep(0.2)

    def login(self) -> dict[str, str]:
        response, _ = self.settle(
            "login", "POST", "/api/auth/login/", json={"username": self.username, "password": self.password}
        )
        if response.status_code != 200:
            raise RuntimeError(f"login of {self.username}: {response.status_code} {response.text[:200]}")
        body: dict[str, str] = response.json()
        return body

    def revoke(self, pair: dict[str, str], answered: bool) -> None:
        with self.shared.lock:
            self.shared.revoked.append((pair["access"], time.monotonic() if answered else None))

    # -- set-up --------------------------------------------------------------------------
    def setup(self) -> None:
        self.settle(
            "register",
            "POST",
            "/api/auth/register/",
            json={"username": self.username, "email": f"{self.username}@example.com", "password": self.password},
        )
        self.devices = [self.login(), self.login()]
        response, _ = self.settle("me", "GET", "/api/auth/me/", headers=bearer(self.devices[0]["access"]))
        self.user_id = response.json()["id"]
        with self.shared.lock:
            if not self.shared.staff_access:
                staff, _ = self.settle(
                    "login",
                    "POST",
                    "/api/auth/login/",
                    json={"username": self.shared.staff[0], "password": self.shared.staff[1]},
                )
                self.shared.staff_access = staff.json()["access"]

    # -- actions -------------------------------------------------------------------------
    def protected(self) -> None:
        d = self.rng.randrange(2)
        pair = self.devices[d]
        response = self.send("protected", "GET", "/api/protected/", headers=bearer(pair["access"]))
        if response is not None and response.status_code == 401:
            self.shared.count("lost", f"{self.username} device {d}: {response.text[:160]}", pair["access"])
            self.devices[d] = self.login()

    def refresh(self, parallel: bool) -> None:
        d = self.rng.randrange(2)
        token = self.devices[d]["refresh"]
        results: list[tuple[httpx.Response, bool]] = []
        calls = 2 if parallel else 1
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    self.settle("refresh", "POST", "/api/auth/token/refresh/", json={"refresh": token})
                )
            )
            for _ in range(calls)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r.json() for r, _ in results if r.status_code == 200]
        refused = [(r, retried) for r, retried in results if r.status_code != 200]
        if refused:
            # A refused refresh ends the session (reuse) even when its twin was answered 200:
            # the pair that twin returned is dead, so it must not be kept.
            late = [r for r, retried in refused if retried and r.extensions["late"] > LATE_RETRY]
            if len(late) == len(refused):
                # Unanswered, then sent again after REFRESH_RETRY_WINDOW: reuse, by design.
                self.shared.count("late_retries", f"{self.username} refresh retried after the window")
            else:
                detail = [
                    (r.status_code, round(r.extensions["late"], 1), retried, r.text[:100]) for r, retried in results
                ]
                self.shared.count("lost", f"{self.username} refresh (status, s, retried, body): {detail}", token)
            self.devices[d] = self.login()
            return
        if len({(b["access"], b["refresh"]) for b in ok}) > 1:
            self.shared.count("forks", f"{self.username}: one refresh token answered with {len(ok)} pairs")
        self.devices[d] = {**self.devices[d], "access": ok[0]["access"], "refresh": ok[0]["refresh"]}

    def logout(self) -> None:
        d = self.rng.randrange(2)
        pair = self.devices[d]
        response, retried = self.settle("logout", "POST", "/api/auth/logout/", headers=bearer(pair["access"]))
        if response.status_code == 401 and not retried:
            self.shared.count("lost", f"{self.username} logout refused: {response.text[:160]}")
        self.revoke(pair, answered=response.status_code == 200)
        self.devices[d] = self.login()

    def change_password(self) -> None:
        new = f"Soak-passphrase-{self.username}-{self.changes + 1}"
        response, retried = self.settle(
            "password-change",
            "POST",
            "/api/auth/password/change/",
            headers=bearer(self.devices[0]["access"]),
            json={"old_password": self.password, "new_password": new},
        )
        if response.status_code == 400 and retried:
            pass  # the unanswered attempt changed it
        elif response.status_code != 200:
            self.shared.count("lost", f"{self.username} password change: {response.status_code} {response.text[:160]}")
            return
        self.changes += 1
        self.password = new
        self.revoke(self.devices[1], answered=response.status_code == 200)
        self.devices[1] = self.login()

    def admin_logout(self) -> None:
        response, _ = self.settle(
            "admin-logout",
            "POST",
            f"/api/auth/admin/users/{self.user_id}/logout/",
            headers=bearer(self.shared.staff_access),
        )
        if response.status_code != 200:
            self.shared.count("lost", f"admin logout of {self.username}: {response.status_code} {response.text[:160]}")
            return
        for pair in self.devices:
            self.revoke(pair, answered=True)
        self.devices = [self.login(), self.login()]

    def probe(self) -> None:
        with self.shared.lock:
            if not self.shared.revoked:
                return
            access, answered_at = self.shared.rng.choice(self.shared.revoked)
        sent = time.monotonic()
        response = self.send("probe", "GET", "/api/protected/", headers=bearer(access))
        if response is not None and response.status_code == 200 and answered_at is not None and answered_at < sent:
            self.shared.count("revoked_accepted", f"a token accepted {sent - answered_at:.1f} s after its logout")

    def run(self, stop: threading.Event) -> None:
        actions = [
            (self.protected, 60),
            (lambda: self.refresh(False), 14),
            (lambda: self.refresh(True), 5),
            (self.probe, 12),
            (self.logout, 5),
            (self.change_password, 2),
            (self.admin_logout, 2),
        ]
        functions, weights = zip(*actions, strict=True)
        try:
            while not stop.is_set():
                self.rng.choices(functions, weights)[0]()
                time.sleep(0.02)
        except Exception as exc:  # noqa: BLE001 — an actor that stops is a finding, not a crash
            self.shared.count("lost", f"{self.username} stopped: {exc!r}")

    def sweep(self) -> None:
        """After the run: every live device of this actor works on both servers."""
        for d, pair in enumerate(self.devices):
            for client in self.clients:
                status = client.get("/api/protected/", headers=bearer(pair["access"])).status_code
                if status != 200:
                    self.shared.count("lost", f"sweep: {self.username} device {d}: {status}", pair["access"])

    def sweep_revoked(self) -> None:
        """After the run: every token whose logout was answered 200 is refused by both servers."""
        for access, answered_at in self.shared.revoked:
            if answered_at is None:
                continue
            for client in self.clients:
                if client.get("/api/protected/", headers=bearer(access)).status_code == 200:
                    self.shared.count("revoked_accepted", "sweep: a revoked token accepted")
