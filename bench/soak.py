#!/usr/bin/env python3
"""
`make soak`: mixed traffic against two servers on PostgreSQL + Redis under a fault every
SOAK_FAULT_EVERY seconds, checked from the clients' side; writes bench/SOAK.md.

Everything runs on loopback and is this run's own: a PostgreSQL cluster (`initdb` in a
temporary directory), a `redis-server`, two gunicorn servers (two workers each) — the
machine's shared services are never touched. Bounded: SOAK_SECONDS (default 600) of
traffic, SOAK_CLIENTS actors (default 6), then a final sweep.

Each actor owns one user with two devices (sessions) and loops over: protected GETs,
refreshes (sometimes two at once of one token), logouts then logins, password changes
(the other device must then be refused), an admin's logout of the user, and probes with
tokens revoked earlier. Faults in turn: PostgreSQL restarted, Redis killed and started
again, a gunicorn worker killed with SIGKILL.

Invariants (the exit status is 1 when one fails): 5xx only inside fault windows (plus 5 s),
revoked tokens accepted after their logout was answered = 0, forked refresh chains = 0,
lost sessions (a 401 for a credential that was valid) = 0, every request answered.
After a 5xx or a lost answer to a change, an actor does what a client should: it sends
the same request again (a logout then answered 401 was done by the first attempt).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.soak_actor import Actor, Shared  # noqa: E402
from tests.support.processes import GunicornServer  # noqa: E402
from tests.support.services import PostgresCluster, RedisServer  # noqa: E402
from tests.support.traffic import Ledger  # noqa: E402

STAFF = ("soak-admin", "Soak-admin-passphrase-77")


def environment(database_url: str, redis_url: str, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="server.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="soak-" + "s" * 59,
        DEBUG="0",
        PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}",  # this tree's package first
        AUTHGATE_VAR_DIR=str(var),
        AUTHGATE_LOG_LEVEL="WARNING",
        AUTHGATE_LOGIN_THROTTLE_USER_IP="100000/15m",
        AUTHGATE_LOGIN_THROTTLE_IP="100000/15m",
        DATABASE_CONNECT_TIMEOUT="2",
        DJANGO_SUPERUSER_USERNAME=STAFF[0],
        DJANGO_SUPERUSER_PASSWORD=STAFF[1],
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    import subprocess

    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True)


class Faults:
    """The fault schedule: one fault every `every` seconds, in turn."""

    def __init__(self, cluster: PostgresCluster, redis: RedisServer, servers: list[GunicornServer], ledger: Ledger):
        self.cluster, self.redis, self.servers, self.ledger = cluster, redis, servers, ledger
        self.kinds = ["postgres-restart", "redis-kill", "worker-kill"]
        self.done: list[dict[str, Any]] = []

    def inject(self, n: int) -> None:
        kind = self.kinds[n % len(self.kinds)]
        with self.ledger.fault(kind) as window:
            if kind == "postgres-restart":
                self.cluster.stop()
                time.sleep(2)
                self.cluster.start()
            elif kind == "redis-kill":
                self.redis.kill()
                time.sleep(2)
                self.redis.start()
            else:
                server = self.servers[n % len(self.servers)]
                pids = server.workers_pids()
                if pids:
                    os.kill(random.choice(pids), signal.SIGKILL)
        self.done.append({"kind": kind, "seconds": round((window.end or window.start) - window.start, 2)})


def session_id(token: str) -> str:
    """The `sid` claim of a JWT, read without verifying it (the server did)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


def diagnose(database_url: str, shared: Shared) -> list[str]:
    """What the database says of each lost session: a row ended with a reason (whose cause
    the client can then look for), or no row at all (a real loss)."""
    import psycopg

    lines = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for example, token in shared.lost_tokens:
            sid = session_id(token)
            row = conn.execute(
                "SELECT ended_at, end_reason FROM authgate_session WHERE id = %s", [uuid.UUID(hex=sid)]
            ).fetchone()
            if row is None:
                found = "no row (deleted)"
            elif row[0] is None:
                found = "the row is live (the 401 was wrong)"
            else:
                found = f"ended as {row[1]!r} at {row[0]:%H:%M:%S}"
            lines.append(f"{example} → session {sid[:8]}: {found}")
    return lines


def report(
    ledger: Ledger, shared: Shared, faults: Faults, args: argparse.Namespace, elapsed: float, lost: list[str]
) -> str:
    rows = ledger.table()
    violations = ledger.violations()
    five_xx = sum(1 for o in ledger.outcomes if o.status >= 500)
    lines = [
        f"## Soak of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"`SOAK_SECONDS={args.seconds} SOAK_CLIENTS={args.clients} SOAK_FAULT_EVERY={args.every} make soak`: "
        f"{elapsed:.0f} s of traffic, two servers (gunicorn, 2 sync workers each) on this run's own "
        f"PostgreSQL cluster and redis-server, all on 127.0.0.1. Load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores.",
        "",
        "| kind | requests | outcomes | p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|",
    ]
    for r in rows:
        outcomes = ", ".join(f"{status or 'no answer'}: {n}" for status, n in r["statuses"].items())
        lines.append(f"| {r['kind']} | {r['requests']} | {outcomes} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    lines += ["", "Faults (each window is the fault itself; 5xx are allowed until 5 s after it):", ""]
    lines += [f"- {f['kind']}: {f['seconds']} s" for f in faults.done]
    invariants = [
        ("5xx outside fault windows", sum(1 for v in violations if "outside a fault window" in v)),
        ("requests without an answer", sum(1 for v in violations if "no answer" in v)),
        ("answers that are not JSON", sum(1 for v in violations if "without a JSON body" in v)),
        ("revoked tokens accepted after their logout was answered", shared.revoked_accepted),
        ("forked refresh chains", shared.forks),
        ("lost sessions (401 for a valid credential)", shared.lost),
    ]
    lines += [
        "",
        f"Sessions ended as reuse because a refresh whose answer was lost was sent again after "
        f"REFRESH_RETRY_WINDOW (by design; a loaded machine delays retries): {shared.late_retries}.",
    ]
    lines += ["", f"5xx inside fault windows: {five_xx}.", "", "| invariant | count | pass |", "|---|---:|---|"]
    lines += [f"| {name} | {count} | {'PASS' if count == 0 else 'FAIL'} |" for name, count in invariants]
    if shared.examples or violations:
        lines += ["", "Examples:", ""] + [f"- {e}" for e in (shared.examples + violations)[:15]]
    if lost:
        lines += ["", "Lost sessions, as the database has them after the run:", ""] + [f"- {e}" for e in lost[:15]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "600")))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "6")))
    parser.add_argument("--every", type=int, default=int(os.environ.get("SOAK_FAULT_EVERY", "30")))
    parser.add_argument("--no-write", action="store_true", help="print the report, do not write bench/SOAK.md")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="authgate-soak-"))
    cluster = PostgresCluster().init().start()
    redis = RedisServer().start()
    servers: list[GunicornServer] = []
    try:
        database_url = cluster.create_database("authgate_soak")
        env = environment(database_url, redis.url, var)
        for command in (["migrate", "--noinput"], ["ensure_superuser"]):
            manage(env, *command)
        for i in range(2):
            servers.append(
                GunicornServer(
                    "server.wsgi:application",
                    env,
                    workers=2,
                    threads=2,
                    args=["-c", "server/gunicorn.conf.py", "--timeout", "60"],
                    log_path=var / f"server{i}.log",
                    health_path="/api/public/",
                ).start()
            )
        ledger = Ledger(grace=5.0)
        shared = Shared([s.url for s in servers], STAFF, ledger, random.Random(7))
        actors = [Actor(i, shared) for i in range(args.clients)]
        for actor in actors:
            actor.setup()
        stop = threading.Event()
        threads = [threading.Thread(target=actor.run, args=(stop,)) for actor in actors]
        started = time.monotonic()
        for t in threads:
            t.start()
        faults = Faults(cluster, redis, servers, ledger)
        n = 0
        while time.monotonic() - started < args.seconds:
            time.sleep(min(args.every, max(0.0, args.seconds - (time.monotonic() - started))))
            if time.monotonic() - started < args.seconds - 5:
                print(f"[soak {time.monotonic() - started:5.0f}s] fault: {faults.kinds[n % 3]}", flush=True)
                faults.inject(n)
                n += 1
        stop.set()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - started
        time.sleep(6)  # past the last window's grace
        for actor in actors:
            actor.sweep()
        actors[0].sweep_revoked()
        text = report(ledger, shared, faults, args, elapsed, diagnose(database_url, shared))
        print(text)
        if not args.no_write:
            path = REPO / "bench" / "SOAK.md"
            intro = "# Soak results\n\nWritten by `make soak` (bench/soak.py); the newest run first.\n\n"
            old = path.read_text().split("\n", 4)[-1] if path.exists() else ""
            path.write_text(intro + text + ("\n" + old if old.startswith("## Soak") else ""))
            print(f"wrote {path}")
        failed = ledger.violations() or shared.revoked_accepted or shared.forks or shared.lost
        return 1 if failed else 0
    finally:
        for server in servers:
            server.stop()
        redis.kill()
        cluster.destroy()


if __name__ == "__main__":
    httpx.Client  # noqa: B018 — fail early, with the import error, when httpx is missing
    sys.exit(main())
