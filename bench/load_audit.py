#!/usr/bin/env python3
"""
Load audit: does authgate stay *correct* under concurrent load?

Starts its own gunicorn (the `make run` command line: sync workers) on a free port of
127.0.0.1, with a fresh SQLite file database in a temporary directory (or the
PostgreSQL/Redis given by --database-url/--redis-url), then drives it for at most 30 s
with 50 concurrent connections (asyncio + httpx). Each connection owns one login
session and loops over a mix of

  protected  GET /api/protected/ with its current access token   must be 200
  refresh    POST /api/auth/token/refresh/ with its refresh token  must be 200 (rotation)
  logout     POST /api/auth/logout/ (Bearer, or refresh in body)   must be 200; then the
             connection takes a new session (opened by a login before the clock
             started, or logs in now when none is left: Argon2 would otherwise dominate)
  probe      a credential some connection already logged out      must be 401
             (access at /api/protected/, refresh at the refresh endpoint)

then audits: zero 5xx, zero 401 for a credential that was valid when sent, zero 200 for
a credential revoked (logout answered) before it was sent. A final sweep presents every
revoked credential once more and every live session's access token once more.

Too slow for `make test`; run with `make load-audit` (or `.venv/bin/python
bench/load_audit.py --help`). Exit status 1 when the audit finds a violation. All traffic
goes to 127.0.0.1; the server is stopped on exit, error or Ctrl-C.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.processes import GunicornServer, free_port  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"
HOST = "127.0.0.1"
PASSWORD = "Load-audit-passphrase-5521"
MAX_DURATION = 30.0
MIX = (("protected", 0.77), ("refresh", 0.14), ("logout", 0.02), ("probe", 0.07))


class Server:
    """gunicorn serving this repo's service, in its own process group (killed on exit)."""

    def __init__(self, workdir, workers, database_url=None, redis_url=None):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "AUTHGATE_VAR_DIR": str(workdir),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "0",
            "ALLOWED_HOSTS": HOST,
            "DJANGO_SETTINGS_MODULE": "server.settings",
            "PYTHONWARNINGS": "ignore",
            # Dozens of concurrent logins per account from one address: each password check in
            # flight holds a place in the failed-login counts, so they must not limit the audit.
            "AUTHGATE_LOGIN_THROTTLE_USER_IP": "1000000/15m",
            "AUTHGATE_LOGIN_THROTTLE_IP": "1000000/15m",
        }
        if database_url:
            self.env["DATABASE_URL"] = database_url
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.server = GunicornServer(
            "server.wsgi:application",
            self.env,
            gunicorn=GUNICORN,
            workers=workers,
            args=["--timeout", "60", "--backlog", "256"],
            log_path=Path(workdir) / "gunicorn.log",
            health_path="/api/health/",
            ready_timeout=30,
            port=self.port,
        )

    def prepare(self):
        for command in (["migrate", "--noinput"], ["createcachetable"]):
            subprocess.run(
                [str(PYTHON), "manage.py", *command], cwd=REPO, env=self.env, check=True, stdout=subprocess.DEVNULL
            )

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()


class Audit:
    """Counts every answer, and every answer that breaks the guarantee."""

    def __init__(self):
        self.counts = Counter()
        self.status = Counter()
        self.violations = Counter()
        self.examples = []
        self.latencies = []

    def record(self, kind, response, started, expected, violation=None):
        self.counts[kind] += 1
        self.status[response.status_code] += 1
        self.latencies.append(time.monotonic() - started)
        if response.status_code >= 500:
            self.violate("5xx", kind, response)
        elif response.status_code != expected:
            self.violate(violation or f"unexpected {response.status_code}", kind, response)

    def violate(self, what, kind, response):
        self.violations[what] += 1
        if len(self.examples) < 10:
            self.examples.append(
                {"violation": what, "request": kind, "status": response.status_code, "body": response.text[:300]}
            )


class Connection:
    """One client connection: its own session, re-opened after each logout."""

    def __init__(self, client, audit, username, revoked, spares, rng):
        self.client, self.audit, self.username, self.revoked, self.rng = client, audit, username, revoked, rng
        self.spares = spares
        self.access = self.refresh = None

    async def login(self):
        self.access, self.refresh = await login(self.client, self.audit, self.username)

    async def next_session(self):
        if self.spares:
            self.access, self.refresh = self.spares.pop()
        else:
            await self.login()

    async def protected(self):
        started = time.monotonic()
        response = await self.client.get("/api/protected/", headers={"Authorization": f"Bearer {self.access}"})
        self.audit.record("protected", response, started, 200, "401 for a valid credential")

    async def rotate(self):
        started = time.monotonic()
        response = await self.client.post("/api/auth/token/refresh/", json={"refresh": self.refresh})
        self.audit.record("refresh", response, started, 200, "401 for a valid credential")
        if response.status_code == 200:
            body = response.json()
            self.access, self.refresh = body["access"], body["refresh"]

    async def logout(self):
        started = time.monotonic()
        if self.rng.random() < 0.5:
            response = await self.client.post("/api/auth/logout/", headers={"Authorization": f"Bearer {self.access}"})
        else:
            response = await self.client.post("/api/auth/logout/", json={"refresh": self.refresh})
        self.audit.record("logout", response, started, 200, "logout refused")
        if response.status_code == 200:
            # Revoked from this moment on: any later request with these must get a 401.
            self.revoked.append((self.access, self.refresh))
        await self.next_session()

    async def probe(self):
        if not self.revoked:
            return await self.protected()
        access, refresh = self.rng.choice(self.revoked)
        started = time.monotonic()
        if self.rng.random() < 0.7:
            response = await self.client.get("/api/protected/", headers={"Authorization": f"Bearer {access}"})
        else:
            response = await self.client.post("/api/auth/token/refresh/", json={"refresh": refresh})
        self.audit.record("probe", response, started, 401, "200 for a revoked credential")

    async def run(self, deadline):
        kinds, weights = zip(*MIX)
        actions = {"protected": self.protected, "refresh": self.rotate, "logout": self.logout, "probe": self.probe}
        while time.monotonic() < deadline:
            await actions[self.rng.choices(kinds, weights)[0]]()


async def login(client, audit, username):
    started = time.monotonic()
    response = await client.post(
        "/api/auth/login/", json={"username": username, "password": PASSWORD, "device": "load-audit"}
    )
    audit.record("login", response, started, 200)
    body = response.json()
    return body["access"], body["refresh"]


async def drive(base, connections, duration, users, seed, spare):
    audit = Audit()
    revoked = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        for username in users:
            response = await client.post(
                "/api/auth/register/",
                json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            )
            assert response.status_code == 201, response.text
        rng = random.Random(seed)
        setup = Audit()  # logins before the clock starts are not part of the load figures
        spares = list(
            await asyncio.gather(*(login(client, setup, users[i % len(users)]) for i in range(connections + spare)))
        )
        assert not setup.violations, setup.examples
        conns = [
            Connection(client, audit, users[i % len(users)], revoked, spares, random.Random(rng.random()))
            for i in range(connections)
        ]
        for conn in conns:
            conn.access, conn.refresh = spares.pop()
        started = time.monotonic()
        tasks = [asyncio.ensure_future(c.run(started + duration)) for c in conns]
        # Hard stop: requests still in flight 5 s after the deadline are abandoned uncounted.
        done, pending = await asyncio.wait(tasks, timeout=duration + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # a client-side error is a bug of this script: surface it
        elapsed = time.monotonic() - started
        # Final sweep, once the load has stopped: no revoked credential works, every live one does.
        for access, refresh in revoked:
            t = time.monotonic()
            audit.record(
                "sweep-revoked-access",
                await client.get("/api/protected/", headers={"Authorization": f"Bearer {access}"}),
                t,
                401,
                "200 for a revoked credential",
            )
            t = time.monotonic()
            audit.record(
                "sweep-revoked-refresh",
                await client.post("/api/auth/token/refresh/", json={"refresh": refresh}),
                t,
                401,
                "200 for a revoked credential",
            )
        for conn in conns:
            t = time.monotonic()
            audit.record(
                "sweep-live",
                await client.get("/api/protected/", headers={"Authorization": f"Bearer {conn.access}"}),
                t,
                200,
                "401 for a valid credential",
            )
    return audit, elapsed, len(revoked)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help=f"seconds of load (max {MAX_DURATION:.0f})")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--users", type=int, default=10, help="accounts the connections share")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temporary directory)")
    parser.add_argument("--redis-url", help="adds the Redis revocation cache")
    parser.add_argument(
        "--spare-sessions", type=int, default=40, help="sessions opened before the clock, taken after a logout"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    duration = min(args.duration, MAX_DURATION)

    with tempfile.TemporaryDirectory(prefix="authgate-load-audit-") as workdir:
        server = Server(workdir, args.workers, args.database_url, args.redis_url)
        try:
            server.prepare()
            server.start()
            users = [f"load{i}" for i in range(args.users)]
            audit, elapsed, revoked = asyncio.run(
                drive(server.base, args.connections, duration, users, args.seed, args.spare_sessions)
            )
        finally:
            server.stop()

    total = sum(audit.counts.values())
    result = {
        "server": f"gunicorn, {args.workers} sync workers, "
        + ("PostgreSQL" if args.database_url else "SQLite")
        + (" + Redis" if args.redis_url else ""),
        "connections": args.connections,
        "duration_s": round(elapsed, 1),
        "requests": total,
        "requests_per_s": round(sum(v for k, v in audit.counts.items() if not k.startswith("sweep")) / elapsed, 1),
        "by_kind": dict(audit.counts),
        "by_status": {str(k): v for k, v in sorted(audit.status.items())},
        "sessions_logged_out": revoked,
        "latency_ms": {
            "p50": round(percentile(audit.latencies, 0.5) * 1000, 1),
            "p99": round(percentile(audit.latencies, 0.99) * 1000, 1),
        },
        "violations": {
            "5xx": audit.violations["5xx"],
            "401 for a valid credential": audit.violations["401 for a valid credential"],
            "200 for a revoked credential": audit.violations["200 for a revoked credential"],
            "other": sum(
                v
                for k, v in audit.violations.items()
                if k not in ("5xx", "401 for a valid credential", "200 for a revoked credential")
            ),
        },
        "examples": audit.examples,
    }
    print(f"load audit: {result['server']}, {args.connections} connections, {result['duration_s']} s")
    print(f"{'request':<24}{'count':>8}")
    for kind, count in sorted(audit.counts.items()):
        print(f"{kind:<24}{count:>8}")
    print(
        f"{'total':<24}{total:>8}   ({result['requests_per_s']} req/s under load; "
        f"p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms)"
    )
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in result["by_status"].items()))
    print("audit:")
    for what, count in result["violations"].items():
        print(f"  {what:<30}{count:>6}   {'OK' if count == 0 else 'VIOLATION'}")
    for example in audit.examples:
        print("  e.g.", json.dumps(example))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if not any(result["violations"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
