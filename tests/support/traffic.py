"""
Client-side bookkeeping for fault tests and the soak: every request's outcome, and the
invariants a client can check by itself.

Invariants checked (`Ledger.violations`):
- every request gets an answer (a fault fails fast, it does not hang the client; only a
  killed worker's requests in flight lose their connection), and
  every answer is JSON (a 5xx included: never an HTML error page);
- a 5xx is only allowed while a fault window is open (`Ledger.fault()` marks one; a request
  counts as inside when it was sent or answered within the window plus `grace` seconds);
- a credential answered 200 after its logout was answered 200 (sent after that answer) is
  a revoked token accepted;
- a 401 for a credential that was valid when the request was sent is a lost session.

Standard library only (the HTTP client is passed in by the caller).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


# Faults whose requests in flight lose their connection (a killed worker's): "no answer"
# is then the expected outcome inside the window.
DROPS_CONNECTIONS = ("worker-kill",)


@dataclass
class Outcome:
    kind: str
    server: str
    sent: float
    done: float
    status: int
    code: str | None
    json: bool
    note: str = ""


@dataclass
class Window:
    name: str
    start: float
    end: float | None = None


@dataclass
class Ledger:
    grace: float = 5.0
    outcomes: list[Outcome] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, server: str, sent: float, response: Any, note: str = "") -> Outcome:
        """`response` is an httpx-like response (status_code, headers, json())."""
        done = time.monotonic()
        code: str | None = None
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if is_json:
            try:
                body = response.json()
                code = body.get("code") if isinstance(body, dict) else None
            except ValueError:
                is_json = False
        outcome = Outcome(kind, server, sent, done, response.status_code, code, is_json, note)
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def failure(self, kind: str, server: str, sent: float, error: BaseException) -> None:
        """A request that got no answer at all (timeout, connection refused)."""
        with self._lock:
            self.outcomes.append(Outcome(kind, server, sent, time.monotonic(), 0, type(error).__name__, False))

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    @contextmanager
    def fault(self, name: str) -> Iterator[Window]:
        window = Window(name, time.monotonic())
        with self._lock:
            self.windows.append(window)
        try:
            yield window
        finally:
            window.end = time.monotonic()

    def in_fault(self, outcome: Outcome, kinds: tuple[str, ...] = ()) -> bool:
        """Whether `outcome` falls in a fault window (of one of `kinds`, when given)."""
        for w in self.windows:
            if kinds and w.name not in kinds:
                continue
            end = (w.end if w.end is not None else time.monotonic()) + self.grace
            if w.start <= outcome.sent <= end or w.start <= outcome.done <= end:
                return True
            if w.name in DROPS_CONNECTIONS and outcome.sent <= end and outcome.done >= w.start:
                return True  # in flight when the worker died (however late its thread noticed)
        return False

    def violations(self) -> list[str]:
        out = list(self.problems)
        for o in self.outcomes:
            if o.status == 0 and not self.in_fault(o, DROPS_CONNECTIONS):
                out.append(f"{o.kind} on {o.server}: no answer ({o.code}): a fault must fail fast")
            elif o.status and not o.json:
                out.append(f"{o.kind} on {o.server}: {o.status} without a JSON body")
            elif o.status >= 500 and not self.in_fault(o):
                out.append(f"{o.kind} on {o.server}: {o.status} {o.code} outside a fault window")
        return out

    def table(self) -> list[dict[str, Any]]:
        """Per kind: requests, outcomes, p50/p99 (ms)."""
        rows = []
        for kind in sorted({o.kind for o in self.outcomes}):
            mine = [o for o in self.outcomes if o.kind == kind]
            latencies = sorted((o.done - o.sent) * 1000 for o in mine)
            rows.append(
                {
                    "kind": kind,
                    "requests": len(mine),
                    "statuses": dict(sorted(Counter(o.status for o in mine).items())),
                    "p50_ms": statistics.median(latencies),
                    "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                }
            )
        return rows


@dataclass
class Credentials:
    """One session as a client holds it: its latest pair, and whether its logout was answered."""

    label: str
    access: str
    refresh: str
    logged_out_at: float | None = None
    retired: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
