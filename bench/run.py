#!/usr/bin/env python3
"""
authgate benchmark harness: authgate side by side with two reference servers, one
built from djangorestframework-simplejwt + its token_blacklist app, one from
django-allauth's headless API with its JWT strategy (stateful validation, rotation).

Standard library only, plus the shared process harness (tests/support) and bench/tasks.py
(the work done inside each server's project). Started by `make bench` -> `bench/run.sh` -> this file.

For each database (SQLite, PostgreSQL) it migrates a fresh database per server, starts
the servers with the same gunicorn settings (and, on PostgreSQL, authgate a second time
with REDIS_URL), then measures them alternately, in rounds (A B C A+R, then reversed):

  public     GET /api/public/, unauthenticated (the floor)                    wrk
  protected  GET /api/protected/ with `Authorization: Bearer <access>`        wrk
  spread     the same GET over the access tokens of thousands of sessions     wrk
  login      each server's login view (Argon2 dominates)                      wrk
  refresh    each server's refresh view, rotation over many sessions:         wrk
             each wrk thread holds a queue of refresh tokens, presents each
             exactly once and queues the rotated one it gets back
  logout     latency of each server's logout view, one session after another, python
             while wrk drives protected GETs at the same server                 + wrk
  rows       stored rows for one session after 1, 10, 1000 refreshes         python
  after      is the session's access token refused right after logout?       python
  logout
  fork       do concurrent refreshes of one refresh token fork the session    python
             into several chains that all go on refreshing?

Each server speaks its own protocol (paths, body and answer field names): KINDS below.

Writes bench/results.json and the figures of bench/RESULTS.md (between the
`<!-- bench:begin -->` / `<!-- bench:end -->` markers, so notes around them are kept).
"""

import argparse
import datetime
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.support.processes import GunicornServer, free_port  # noqa: E402  (the shared harness)

WORK = BENCH / ".work"
LUA = BENCH / "lua"
REF_DIR = BENCH / "reference"
REF_VENV = BENCH / ".venv-ref"
ALLAUTH_DIR = BENCH / "reference_allauth"
ALLAUTH_VENV = BENCH / ".venv-allauth"
AUTHGATE_VENV = REPO / ".venv"

PASSWORD = "Bench-pass-7319!"
N_USERS = 8
HOST = "127.0.0.1"
PG_BASE = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))
SECRET_KEY = "bench-" + "k" * 58

RUN_BUDGET_S = 870  # the whole run stays under 15 minutes
START = time.monotonic()

RUNNING = []  # live server processes, killed at exit whatever happens


def log(msg):
    print(f"[bench {time.monotonic() - START:6.1f}s] {msg}", flush=True)


def elapsed():
    return time.monotonic() - START


# ---------------------------------------------------------------------------- helpers
def request(port, method, path, body=None, token=None, timeout=15, connected=None):
    """One HTTP request to 127.0.0.1:port; returns (status, parsed JSON or None, raw bytes).
    `connected()`, when given, runs once the connection is open and before the request is
    sent (parallel refreshes wait there for each other)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        if connected is not None:
            conn.connect()
            connected()
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return resp.status, parsed, raw


def run(cmd, env=None, cwd=None, timeout=120, check=True):
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def redis_command(*commands, db=None):
    """Tiny RESP client: runs inline commands, returns the raw reply text (or None if down)."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as s:
            payload = b""
            for cmd in ([f"SELECT {db}"] if db is not None else []) + list(commands):
                parts = cmd.split()
                payload += f"*{len(parts)}\r\n".encode() + b"".join(
                    f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts
                )
            s.sendall(payload)
            time.sleep(0.1)
            return s.recv(65536).decode(errors="replace")
    except OSError:
        return None


def psql(sql, db="postgres"):
    return run(["psql", f"{PG_BASE}/{db}", "-v", "ON_ERROR_STOP=1", "-Atqc", sql], timeout=60)


def postgres_available():
    if not shutil.which("psql"):
        return False, "psql not installed"
    try:
        out = psql("SHOW server_version").stdout.strip()
        return True, out
    except Exception as exc:  # noqa: BLE001
        return False, str(exc).splitlines()[0]


# ---------------------------------------------------------------------------- protocols
# What differs between the servers' APIs. authgate and simplejwt share paths and field
# names; allauth's headless "app" client has its own: login and refresh answer the tokens
# inside "meta" / "data" as "access_token" / "refresh_token", logout is DELETE of the
# session, authenticated by the access token.
KINDS = {
    "authgate": {
        "login": "/api/auth/login/",
        "refresh": "/api/auth/token/refresh/",
        "refresh_field": "refresh",
        "logout": ("POST", "/api/auth/logout/"),
    },
    "simplejwt": {
        "login": "/api/auth/login/",
        "refresh": "/api/auth/token/refresh/",
        "refresh_field": "refresh",
        "logout": ("POST", "/api/auth/logout/"),
    },
    "allauth": {
        "login": "/_allauth/app/v1/auth/login",
        "refresh": "/_allauth/app/v1/tokens/refresh",
        "refresh_field": "refresh_token",
        "logout": ("DELETE", "/_allauth/app/v1/auth/session"),
    },
}
REFERENCES = ("simplejwt", "allauth")


def token_pair(kind, body):
    """(access, refresh) from a login or refresh answer of a server of `kind`, or Nones."""
    if not isinstance(body, dict):
        return None, None
    if kind == "allauth":
        inner = body.get("meta") if isinstance(body.get("meta"), dict) else body.get("data")
        inner = inner if isinstance(inner, dict) else {}
        return inner.get("access_token"), inner.get("refresh_token")
    return body.get("access"), body.get("refresh")


def login_http(server, username, password=None):
    """POST the server's login view; (status, access, refresh, raw)."""
    status, body, raw = request(
        server.port, "POST", server.api["login"], {"username": username, "password": password or PASSWORD}
    )
    access, refresh = token_pair(server.kind, body) if status == 200 else (None, None)
    return status, access, refresh, raw


def refresh_http(server, refresh, timeout=15):
    """POST the server's refresh view with `refresh`; (status, access, rotated refresh, raw)."""
    status, body, raw = request(
        server.port, "POST", server.api["refresh"], {server.api["refresh_field"]: refresh}, timeout=timeout
    )
    access, rotated = token_pair(server.kind, body) if status == 200 else (None, None)
    return status, access, rotated, raw


def logout_http(server, access, refresh):
    """The server's logout of the session holding (access, refresh); (status, done, raw).
    authgate and simplejwt take the refresh token in the body and answer 200; allauth ends
    the session named by the access token and answers 401 "not authenticated" (its
    AuthenticationResponse after a logout)."""
    method, path = server.api["logout"]
    if server.kind == "allauth":
        status, body, raw = request(server.port, method, path, token=access)
        done = status == 401 and isinstance(body, dict) and body.get("meta", {}).get("is_authenticated") is False
        return status, done, raw
    status, _, raw = request(server.port, method, path, {"refresh": refresh})
    return status, status == 200, raw


# ---------------------------------------------------------------------------- servers
# The work done inside each project (users, sessions, row counts) is bench/tasks.py, run
# with that project's Python, working directory and environment.
TASKS = BENCH / "tasks.py"


class Server:
    def __init__(self, kind, db, redis=False, workers=2, baseline=None):
        self.kind = kind  # "authgate" | "simplejwt" | "allauth"
        self.api = KINDS[kind]
        self.db = db  # "sqlite" | "postgres"
        self.redis = redis
        self.workers = workers
        # `baseline`: (rev, directory) of another authgate revision, served from its own
        # source tree with the same virtualenv (its src/ first on PYTHONPATH).
        self.baseline = baseline
        name = f"baseline@{baseline[0]}" if baseline else kind
        self.label = name + ("+redis" if redis else "")
        self.tag = ("baseline" if baseline else kind) + f"_{db}" + ("_redis" if redis else "")
        self.port = free_port()
        self.logfile = WORK / f"{self.tag}.log"
        self.access = None
        if kind == "authgate":
            self.cwd = baseline[1] if baseline else REPO
            self.python = AUTHGATE_VENV / "bin" / "python"
            self.gunicorn = AUTHGATE_VENV / "bin" / "gunicorn"
            self.wsgi = "server.wsgi:application"
            self.settings = "server.settings"
            self.prefixes = ["authgate_"]
        elif kind == "allauth":
            self.cwd = ALLAUTH_DIR
            self.python = ALLAUTH_VENV / "bin" / "python"
            self.gunicorn = ALLAUTH_VENV / "bin" / "gunicorn"
            self.wsgi = "allauthserver.wsgi:application"
            self.settings = "allauthserver.settings"
            # Its sessions (and the refresh tokens' state inside them) are Django's.
            self.prefixes = ["django_session", "account_"]
        else:
            self.cwd = REF_DIR
            self.python = REF_VENV / "bin" / "python"
            self.gunicorn = REF_VENV / "bin" / "gunicorn"
            self.wsgi = "refserver.wsgi:application"
            self.settings = "refserver.settings"
            self.prefixes = ["token_blacklist_"]
        if db == "sqlite":
            self.sqlite_path = WORK / f"{self.tag}.sqlite3"
            self.database_url = f"sqlite:///{self.sqlite_path}"
        else:
            # BENCH_PG_PREFIX: runs sharing one PostgreSQL server keep apart.
            self.pg_name = f"{os.environ.get('BENCH_PG_PREFIX', 'bench')}_{self.tag}"
            self.database_url = f"{PG_BASE}/{self.pg_name}"
        self.env = dict(os.environ)
        for var in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTHONPATH"):
            self.env.pop(var, None)
        self.env.update(
            {
                "DATABASE_URL": self.database_url,
                "SECRET_KEY": SECRET_KEY,
                "DEBUG": "0",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SETTINGS_MODULE": self.settings,
                "AUTHGATE_VAR_DIR": str(WORK / f"var_{self.tag}"),
                "PYTHONUNBUFFERED": "1",
                # Many concurrent logins of one account from 127.0.0.1: each password check in
                # flight holds a place in the failed-login counts, so they must not limit a bench.
                "AUTHGATE_LOGIN_THROTTLE_USER_IP": "1000000/15m",
                "AUTHGATE_LOGIN_THROTTLE_IP": "1000000/15m",
            }
        )
        if redis:
            self.env["REDIS_URL"] = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
        if baseline:
            self.env["PYTHONPATH"] = str(Path(baseline[1]) / "src")
        if kind == "authgate":
            self.env["AUTHGATE_LOG_LEVEL"] = "DEBUG"  # the session cache's hit-rate lines

    # -- database ----------------------------------------------------------------------
    def reset_database(self):
        if self.db == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
        else:
            psql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            psql(f'CREATE DATABASE "{self.pg_name}"')
        if self.redis:
            redis_command("FLUSHDB", db=REDIS_DB)

    def drop_database(self):
        try:
            if self.db == "sqlite":
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
            else:
                psql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            if self.redis:
                redis_command("FLUSHDB", db=REDIS_DB)
        except Exception as exc:  # noqa: BLE001
            log(f"warning: could not drop the database of {self.tag}: {exc}")

    def manage(self, *args, timeout=180):
        return run([str(self.python), "manage.py", *args], env=self.env, cwd=self.cwd, timeout=timeout)

    def task(self, name, timeout=180, **kwargs):
        """Run `bench/tasks.py name` inside this server's project; its RESULT."""
        out = run(
            [str(self.python), str(TASKS), name, json.dumps(kwargs)], env=self.env, cwd=self.cwd, timeout=timeout
        ).stdout
        for line in reversed(out.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :])
        raise RuntimeError(f"{self.tag}: no RESULT line from bench/tasks.py {name}:\n{out[-2000:]}")

    def prepare(self):
        self.reset_database()
        self.manage("migrate", "--noinput")
        if self.kind == "authgate":
            self.manage("createcachetable")  # the DB cache of the login throttle (no-op with Redis)
        self.users = [f"bench{i}" for i in range(N_USERS)] + ["rows"]
        self.task("create-users", password=PASSWORD, names=self.users)

    # -- process -----------------------------------------------------------------------
    def start(self):
        # The service's own gunicorn settings when it has them (as `make run` uses them:
        # e.g. the metrics' multiprocess mode), so the bench measures what is deployed.
        config = ["-c", "server/gunicorn.conf.py"] if (Path(self.cwd) / "server" / "gunicorn.conf.py").exists() else []
        self.gunicorn_server = GunicornServer(
            self.wsgi,
            self.env,
            cwd=self.cwd,
            gunicorn=self.gunicorn,
            workers=self.workers,
            threads=1,
            args=[*config, "--worker-class", "sync", "--log-level", "warning", "--timeout", "30"],
            log_path=self.logfile,
            health_path="/api/public/",
            port=self.port,
        )
        RUNNING.append(self)
        try:
            self.gunicorn_server.start()
        except RuntimeError as exc:
            raise RuntimeError(f"{self.tag}: {str(exc).splitlines()[0]}; see {self.logfile}") from None

    def stop(self):
        if getattr(self, "gunicorn_server", None):
            self.gunicorn_server.stop()
        if self in RUNNING:
            RUNNING.remove(self)

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def mint_sessions(self, count):
        return self.task("mint-refresh", kind=self.kind, names=self.users[:N_USERS], count=count)

    def mint_access(self, count):
        return self.task("mint-access", kind=self.kind, names=self.users[:N_USERS], count=count)

    def mint_pairs(self, count):
        return self.task("mint-pairs", kind=self.kind, names=self.users[:N_USERS], count=count)

    def propagation(self, count):
        """bench/propagation.py against this server's database (authgate only)."""
        out = run(
            [str(self.python), str(BENCH / "propagation.py"), str(count)], env=self.env, cwd=self.cwd, timeout=120
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def cache_stats(self, start):
        """Session-cache hits/lookups logged by the workers since log offset `start`."""
        try:
            text = self.logfile.read_text(errors="replace")[start:]
        except OSError:
            return None
        hits = lookups = 0
        for m in re.finditer(r"session cache: (\d+) hits of (\d+) lookups", text):
            hits += int(m.group(1))
            lookups += int(m.group(2))
        return {"hits": hits, "lookups": lookups} if lookups else None

    def log_offset(self):
        try:
            return len(self.logfile.read_text(errors="replace"))
        except OSError:
            return 0

    def rows(self, username):
        return self.task("count-rows", username=username, prefixes=self.prefixes)


def export_baseline(rev):
    """(short commit, directory) of `rev`'s tree, exported under bench/.work (git archive:
    no worktree bookkeeping in the repository)."""
    commit = run(["git", "rev-parse", "--short", rev], cwd=REPO).stdout.strip()
    target = WORK / f"baseline-{commit}"
    if not (target / "manage.py").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True, timeout=120
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True, timeout=120)
    log(f"baseline: authgate at {rev} ({commit}) from {target}")
    return commit, str(target)


def stop_all():
    for server in list(RUNNING):
        server.stop()


# ---------------------------------------------------------------------------- wrk
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(server):
    """{pid: CPU seconds (utime + stime)} of the server's gunicorn workers: the work the
    server's Python does per request (the load generator's share of the cores is not in
    it, nor the database server's: a server that does more in PostgreSQL looks cheaper)."""
    pids = list(server.gunicorn_server.workers_pids())
    cpu = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return cpu


def wrk(server, script, path, duration, connections, threads, extra_env=None):
    lua = WORK / f"{Path(script).stem}.run.lua"
    lua.write_text((LUA / "common.lua").read_text() + "\n" + (LUA / script).read_text())
    env = dict(os.environ, BENCH_THREADS=str(threads), **(extra_env or {}))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        server.url(path),
    ]
    before = server_cpu(server)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 30)
    after = server_cpu(server)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON ") :])
            secs = data["duration_us"] / 1e6
            data["seconds"] = secs
            # A process that ended during the round takes its CPU time with it: then no figure.
            same = set(before) <= set(after)
            data["cpu_s"] = sum(t - before.get(pid, 0.0) for pid, t in after.items()) if same else None
            data["socket_errors"] = sum(
                data[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")
            )
            return data
    raise RuntimeError(f"wrk gave no summary ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def combine(rounds):
    """One figure from several alternated rounds: 2xx/s over the total time; latency
    p50 = mean of the rounds' p50, p99 = worst round's p99."""
    total_s = sum(r["seconds"] for r in rounds)
    ok = sum(r["ok2xx"] for r in rounds)
    bad_samples = [r["bad_sample"] for r in rounds if r["bad_sample"]]
    statuses = {}
    for r in rounds:
        for part in r["status_counts"]:
            for k, v in part.items():
                statuses[k] = statuses.get(k, 0) + v
    return {
        "rps": ok / total_s if total_s else 0.0,
        "requests": sum(r["requests"] for r in rounds),
        "ok2xx": ok,
        "non2xx": sum(r["non2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "status_counts": statuses,
        "p50_ms": sum(r["p50_us"] for r in rounds) / len(rounds) / 1000,
        "p99_ms": max(r["p99_us"] for r in rounds) / 1000,
        "seconds": total_s,
        "rounds": len(rounds),
        "starved": sum(r.get("starved", 0) for r in rounds),
        "bad_sample": bad_samples[0] if bad_samples else "",
        # The workers' CPU per request, over the rounds that have it.
        "cpu_us": _cpu_per_request(rounds),
    }


def _cpu_per_request(rounds):
    timed = [r for r in rounds if r.get("cpu_s") is not None and r["requests"]]
    if not timed:
        return None
    return sum(r["cpu_s"] for r in timed) / sum(r["requests"] for r in timed) * 1e6


# ---------------------------------------------------------------------------- phases
def sanity(server):
    """Login once over HTTP, check the protected and public routes answer as specified."""
    status, access, refresh, raw = login_http(server, "bench0")
    if status != 200 or not access or not refresh:
        raise RuntimeError(f"{server.tag}: POST {server.api['login']} -> {status} {raw[:300]!r}")
    server.access = access
    status, body, raw = request(server.port, "GET", "/api/protected/", token=server.access)
    expected = {"message": "Hello bench0, you have accessed a protected route!"}
    if status != 200 or body != expected:
        raise RuntimeError(f"{server.tag}: GET /api/protected/ -> {status} {raw[:300]!r}")
    status, body, raw = request(server.port, "GET", "/api/public/")
    if status != 200 or body != {"ok": True}:
        raise RuntimeError(f"{server.tag}: GET /api/public/ -> {status} {raw[:300]!r}")


def rows_and_logout(server, refreshes, checkpoints, deadline):
    """One session (user "rows"): login, `refreshes` sequential rotations, stored rows at the
    checkpoints; then logout and check its last access and refresh tokens."""
    out = {"checkpoints": {}, "errors": []}
    status, access, refresh, raw = login_http(server, "rows")
    if status != 200 or not refresh:
        out["errors"].append(f"POST {server.api['login']} -> {status} {raw[:300]!r}")
        return out
    out["checkpoints"]["0"] = server.rows("rows")
    t0 = time.monotonic()
    for i in range(1, refreshes + 1):
        if time.monotonic() > deadline:
            out["errors"].append(f"chain stopped after {i - 1} refreshes: time limit of the run")
            i += 1
            break
        status, new_access, new_refresh, raw = refresh_http(server, refresh)
        if status != 200 or not new_refresh:
            out["errors"].append(f"refresh #{i}: POST {server.api['refresh']} -> {status} {raw[:300]!r}")
            break
        refresh, access = new_refresh, new_access
        if i in checkpoints:
            out["checkpoints"][str(i)] = server.rows("rows")
    out["chain_seconds"] = time.monotonic() - t0
    out["refreshes_done"] = i if not out["errors"] else i - 1
    # Logout, then: is the session's last access token still accepted? its refresh token?
    status, body, raw = request(server.port, "GET", "/api/protected/", token=access)
    out["access_before_logout"] = status
    status, done, raw = logout_http(server, access, refresh)
    out["logout_status"] = status
    if not done:
        out["errors"].append(f"{' '.join(server.api['logout'])} -> {status} {raw[:300]!r}")
    status, _, _ = request(server.port, "GET", "/api/protected/", token=access)
    out["access_after_logout"] = status
    status, _, _, _ = refresh_http(server, refresh)
    out["refresh_after_logout"] = status
    return out


def fork_check(server, pairs, fanout):
    """Parallel refreshes of one refresh token: for each session of `pairs` (fresh, never
    refreshed), `fanout` clients present its refresh token at the same moment (connections
    opened first, then released together by a barrier); then each distinct refresh token
    that came back is presented once more, one after another. A session whose answers give
    two or more tokens that all refresh again has forked into independent chains."""
    trials = []
    for _access, refresh in pairs:
        barrier = threading.Barrier(fanout)

        def one(refresh=refresh, barrier=barrier):
            body = {server.api["refresh_field"]: refresh}
            status, parsed, _raw = request(
                server.port, "POST", server.api["refresh"], body, connected=lambda: barrier.wait(10)
            )
            return status, (token_pair(server.kind, parsed)[1] if status == 200 else None)

        with ThreadPoolExecutor(fanout) as pool:
            answers = list(pool.map(lambda _: one(), range(fanout)))
        returned = sorted({tok for status, tok in answers if tok})
        live = 0
        for tok in returned:
            status, _, rotated, _ = refresh_http(server, tok)
            if status == 200 and rotated:
                live += 1
        trials.append(
            {
                "answered_200": sum(1 for status, _ in answers if status == 200),
                "statuses": sorted(status for status, _ in answers),
                "distinct_tokens": len(returned),
                "live_chains": live,
            }
        )
    return {
        "fanout": fanout,
        "trials": len(trials),
        "forked": sum(1 for t in trials if t["live_chains"] >= 2),
        "max_live_chains": max((t["live_chains"] for t in trials), default=0),
        "max_answered_200": max((t["answered_200"] for t in trials), default=0),
        "detail": trials,
    }


def percentile(values, q):
    """The q-quantile (0..1) of `values` by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


IDLE_LOGOUTS = 10  # logouts timed before the load starts: the request's own cost


def timed_logouts(server, pairs, keep_going):
    """Log the sessions of `pairs` out one after another (a new connection each, as a
    client would) while keep_going(); (latencies in ms, failures)."""
    latencies, failures = [], []
    for access, refresh in pairs:
        if not keep_going():
            break
        t0 = time.perf_counter()
        status, done, raw = logout_http(server, access, refresh)
        latencies.append((time.perf_counter() - t0) * 1000)
        if not done:
            failures.append(f"{status} {raw[:200]!r}" if len(failures) < 3 else str(status))
    return latencies, failures


def logout_under_load(server, pairs, duration, connections, threads):
    """Logout latency while the server is busy: the first IDLE_LOGOUTS sessions of `pairs`
    are logged out with no other traffic (the request's own cost); then wrk drives protected
    GETs (one hot token) at the server for `duration` s while one client logs the others out
    one after another, until wrk stops or the sessions run out. Returns the latencies, idle
    and under load, and wrk's figures of the same window (its GETs wait in the same queue)."""
    idle, failures = timed_logouts(server, pairs[:IDLE_LOGOUTS], lambda: True)
    result = {}

    def load():
        result["wrk"] = wrk(
            server, "get.lua", "/api/protected/", duration, connections, threads, {"BENCH_TOKEN": server.access}
        )

    runner = threading.Thread(target=load)
    runner.start()
    time.sleep(0.3)  # wrk's connections are open and busy
    latencies, loaded_failures = timed_logouts(server, pairs[IDLE_LOGOUTS:], runner.is_alive)
    runner.join(duration + 40)
    return {
        "latencies_ms": latencies,
        "idle_ms": idle,
        "failures": failures + loaded_failures,
        "wrk": result.get("wrk"),
    }


def combine_logouts(rounds):
    latencies = [x for r in rounds for x in r["latencies_ms"]]
    gets = [r["wrk"] for r in rounds if r.get("wrk")]
    return {
        "logouts": len(latencies),
        "failed": sum(len(r["failures"]) for r in rounds),
        "failure_sample": next((r["failures"][0] for r in rounds if r["failures"]), ""),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
        "idle_p50_ms": percentile([x for r in rounds for x in r.get("idle_ms", [])], 0.50),
        "get_rps": combine(gets)["rps"] if gets else None,
        "get_p50_ms": combine(gets)["p50_ms"] if gets else None,
        "get_p99_ms": combine(gets)["p99_ms"] if gets else None,
    }


def total_rows(cp):
    return sum(cp.values()) if cp else None


def bench_group(db, servers, opts, results):
    """Prepare, start and measure `servers` (one database) alternately."""
    group = {"db": db, "servers": {}, "measurements": {}, "rows": {}, "errors": []}
    results["groups"].append(group)
    live = []
    try:
        for s in servers:
            log(f"{db}: preparing {s.label} (fresh database, migrate, users)")
            try:
                s.prepare()
                s.start()
                sanity(s)
                live.append(s)
                group["servers"][s.label] = {"port": s.port, "database": s.database_url, "log": str(s.logfile)}
            except Exception as exc:  # noqa: BLE001
                msg = f"{s.label} on {db} not benchmarked: {exc}"
                log("ERROR " + msg)
                group["errors"].append(msg)
                s.stop()
        if not live:
            return
        t, c = opts.threads, opts.connections

        def measure(name, script, path, duration, connections, env_for, rounds):
            if opts.only and name not in opts.only:
                return
            if elapsed() + duration * rounds * len(live) > RUN_BUDGET_S:
                msg = f"{name} on {db} skipped: the run's time budget would be exceeded"
                log(msg)
                group["errors"].append(msg)
                return
            per = {s.label: [] for s in live}
            for r in range(rounds):
                order = live if r % 2 == 0 else list(reversed(live))
                for s in order:
                    res = wrk(s, script, path(s) if callable(path) else path, duration, connections, t, env_for(s, r))
                    per[s.label].append(res)
                    log(
                        f"{db}: {name:<9} {s.label:<15} round {r + 1}/{rounds}: "
                        f"{res['ok2xx'] / res['seconds']:8.1f} 2xx/s  non-2xx {res['non2xx']}  "
                        f"socket errors {res['socket_errors']}"
                    )
            group["measurements"][name] = {label: combine(rs) for label, rs in per.items()}

        # Warm-up (not recorded): imports, connections, caches.
        for s in live:
            wrk(s, "get.lua", "/api/public/", 1, c, t)
            wrk(s, "get.lua", "/api/protected/", 1, c, t, {"BENCH_TOKEN": s.access})

        if not opts.only_logout:
            throughput(db, live, opts, group, measure)
        if not opts.only:
            logout_latency(db, live, opts, group)
        if not opts.only_logout and not opts.only:
            checks(db, live, opts, group)
    finally:
        for s in servers:
            s.stop()
            scan_log(s, group)
            if not opts.keep:
                s.drop_database()


MEASUREMENTS = ("public", "protected", "spread", "login", "refresh")


def throughput(db, live, opts, group, measure):
    """The wrk measurements: public, protected, spread, login, refresh (`--only`: some)."""
    c = opts.connections
    wanted = set(opts.only or MEASUREMENTS)
    measure("public", "get.lua", "/api/public/", opts.duration, c, lambda s, r: {}, opts.rounds)
    measure(
        "protected",
        "get.lua",
        "/api/protected/",
        opts.duration,
        c,
        lambda s, r: {"BENCH_TOKEN": s.access},
        opts.rounds,
    )

    # The same GET with the access tokens of many sessions (not one hot token).
    spread_files = {}
    for s in live if "spread" in wanted else ():
        f = WORK / f"spread_{s.tag}"
        f.write_text("\n".join(s.mint_access(opts.spread)) + "\n")
        spread_files[s.label] = f
    offsets = {s.label: s.log_offset() for s in live}
    measure(
        "spread",
        "get_spread.lua",
        "/api/protected/",
        opts.duration,
        c,
        lambda s, r: {"BENCH_TOKENS_FILE": str(spread_files[s.label])},
        opts.rounds,
    )
    for s in live:
        if s.kind == "authgate" and not s.baseline:
            group.setdefault("cache_hits", {})[s.label] = s.cache_stats(offsets[s.label])

    harvest = {s.label: WORK / f"harvest_{s.tag}" for s in live}
    measure(
        "login",
        "login.lua",
        lambda s: s.api["login"],
        opts.login_duration,
        opts.login_connections,
        lambda s, r: {
            "BENCH_USERS": ",".join(s.users[:N_USERS]),
            "BENCH_PASSWORD": PASSWORD,
            "BENCH_HARVEST": f"{harvest[s.label]}.r{r}",
            "BENCH_REFRESH_FIELD": s.api["refresh_field"],
        },
        opts.rounds,
    )

    # Sessions for the refresh measurement: those the login measurement opened, topped
    # up with sessions opened directly in the server's database (same code path as
    # login after the password check), one separate set per round.
    token_files = {}
    for s in live if "refresh" in wanted else ():
        harvested = []
        for f in sorted(WORK.glob(f"harvest_{s.tag}.r*")):
            harvested += [line for line in f.read_text().splitlines() if line]
            f.unlink()
        need = max(0, opts.sessions * opts.rounds - len(harvested))
        minted = s.mint_sessions(need) if need else []
        tokens = harvested + minted
        token_files[s.label] = []
        for r in range(opts.rounds):
            f = WORK / f"tokens_{s.tag}.r{r}"
            f.write_text("\n".join(tokens[r :: opts.rounds]) + "\n")
            token_files[s.label].append(f)
        group.setdefault("sessions", {})[s.label] = {
            "per_round": len(tokens) // opts.rounds,
            "from_login": len(harvested),
            "minted": len(minted),
        }
    measure(
        "refresh",
        "refresh.lua",
        lambda s: s.api["refresh"],
        opts.duration,
        c,
        lambda s, r: {
            "BENCH_TOKENS_FILE": str(token_files[s.label][r]),
            "BENCH_REFRESH_FIELD": s.api["refresh_field"],
        },
        opts.rounds,
    )


def logout_latency(db, live, opts, group):
    """Logout latency under load: one client logs sessions out one after another while
    wrk drives protected GETs at the same server; servers alternated in rounds."""
    c, t = opts.connections, opts.threads
    if elapsed() + opts.duration * opts.rounds * len(live) > RUN_BUDGET_S:
        group["errors"].append(f"logout latency on {db} skipped: the run's time budget would be exceeded")
    else:
        per_round = IDLE_LOGOUTS + opts.logouts
        pairs = {s.label: s.mint_pairs(per_round * opts.rounds) for s in live}
        per = {s.label: [] for s in live}
        for r in range(opts.rounds):
            for s in live if r % 2 == 0 else list(reversed(live)):
                share = pairs[s.label][r * per_round : (r + 1) * per_round]
                res = logout_under_load(s, share, opts.duration, c, t)
                per[s.label].append(res)
                got = combine_logouts([res])
                log(
                    f"{db}: logout    {s.label:<15} round {r + 1}/{opts.rounds}: {got['logouts']} logouts, "
                    f"p50 {fmt(got['p50_ms'], '.1f')} ms, p99 {fmt(got['p99_ms'], '.1f')} ms, "
                    f"failed {got['failed']}; GETs {fmt(got['get_rps'], '.0f')} 2xx/s"
                )
        group["logout_latency"] = {label: combine_logouts(rs) for label, rs in per.items()}


def checks(db, live, opts, group):
    """Not timed: parallel refreshes, propagation, rows per session and the check after logout."""
    # Parallel refreshes of one token: do they fork the session? (not timed)
    for s in live:
        try:
            group.setdefault("fork", {})[s.label] = fork_check(s, s.mint_pairs(opts.fork_trials), opts.fork_fanout)
        except Exception as exc:  # noqa: BLE001
            group["errors"].append(f"{s.label}: parallel refresh check failed: {exc!r}")

    # Revocation propagation between two processes (authgate's session cache).
    for s in live:
        if s.kind == "authgate" and not s.baseline:
            log(f"{db}: revocation propagation, {s.label}")
            try:
                group.setdefault("propagation", {})[s.label] = s.propagation(opts.propagation)
            except Exception as exc:  # noqa: BLE001
                group["errors"].append(f"{s.label}: propagation failed: {exc}")

    # Rows per session after N refreshes, and logout (not timed: servers in parallel).
    log(f"{db}: rows per session after {opts.refreshes} refreshes, and logout, on every server")
    checkpoints = sorted({1, 10, opts.refreshes})
    deadline = time.monotonic() + min(150, max(10, RUN_BUDGET_S - elapsed()))
    with ThreadPoolExecutor(len(live)) as pool:
        futures = {s.label: pool.submit(rows_and_logout, s, opts.refreshes, checkpoints, deadline) for s in live}
        for label, fut in futures.items():
            try:
                group["rows"][label] = fut.result(timeout=300)
            except Exception as exc:  # noqa: BLE001
                group["rows"][label] = {"checkpoints": {}, "errors": [repr(exc)]}
    for s in live:
        try:
            group["rows"][s.label]["all_users_after_load"] = s.rows("*")
        except Exception as exc:  # noqa: BLE001
            group["errors"].append(f"{s.label}: row count failed: {exc}")


def scan_log(server, group):
    """Tracebacks or worker timeouts in a server's log are findings too."""
    try:
        text = server.logfile.read_text(errors="replace")
    except OSError:
        return
    hits = [
        line
        for line in text.splitlines()
        if re.search(r"Traceback|Error|CRITICAL|WORKER TIMEOUT|database is locked", line)
    ]
    if hits:
        group.setdefault("log_findings", {})[server.label] = hits[:20]


# ---------------------------------------------------------------------------- report
TARGETS = [
    # key, description, threshold (by database where it differs)
    ("protected_vs_simplejwt", "protected GET >= {thr}x simplejwt", {"sqlite": 1.5, "postgres": 2.0}),
    ("protected_vs_allauth", "protected GET >= 3x allauth", 3.0),
    ("auth_overhead", "authgate protected GET >= 0.90x its public GET", 0.90),
    ("refresh_vs_simplejwt", "refresh with rotation >= 2x simplejwt", 2.0),
    ("refresh_vs_allauth", "refresh with rotation >= 2x allauth", 2.0),
    ("login_vs_simplejwt", "login >= 0.95x simplejwt", 0.95),
    ("propagation_p99", "revocation reaches another process, p99 <= 5 ms", 5.0),
    ("logout_p99", "logout p99 under load <= 50 ms", 50.0),
    ("refused_after_logout", "access token refused right after logout", None),
    ("no_fork", "parallel refreshes of one token never fork", None),
    ("rows_constant", "rows per session constant after 1000 refreshes", None),
    ("zero_non2xx", "zero non-2xx (and socket errors) under load", None),
]


def evaluate(results):
    rows = []
    for g in results["groups"]:
        m = g["measurements"]
        for label in [lb for lb in g["servers"] if lb.startswith("authgate")]:
            config = f"{g['db']}" + (" + redis" if "redis" in label else "")

            def rps(name, who, m=m):
                return m.get(name, {}).get(who, {}).get("rps")

            def ratio(a, b):
                return a / b if a and b else None

            def cpu(name, who, m=m):
                return m.get(name, {}).get(who, {}).get("cpu_us")

            # The same ratios by server CPU per request (the other's cost ÷ this one's).
            by_cpu = {
                "protected_vs_simplejwt": ratio(cpu("protected", "simplejwt"), cpu("protected", label)),
                "protected_vs_allauth": ratio(cpu("protected", "allauth"), cpu("protected", label)),
                "auth_overhead": ratio(cpu("public", label), cpu("protected", label)),
                "refresh_vs_simplejwt": ratio(cpu("refresh", "simplejwt"), cpu("refresh", label)),
                "refresh_vs_allauth": ratio(cpu("refresh", "allauth"), cpu("refresh", label)),
                "login_vs_simplejwt": ratio(cpu("login", "simplejwt"), cpu("login", label)),
            }

            checks = {
                "protected_vs_simplejwt": ratio(rps("protected", label), rps("protected", "simplejwt")),
                "protected_vs_allauth": ratio(rps("protected", label), rps("protected", "allauth")),
                "auth_overhead": ratio(rps("protected", label), rps("public", label)),
                "refresh_vs_simplejwt": ratio(rps("refresh", label), rps("refresh", "simplejwt")),
                "refresh_vs_allauth": ratio(rps("refresh", label), rps("refresh", "allauth")),
                "login_vs_simplejwt": ratio(rps("login", label), rps("login", "simplejwt")),
            }
            rr = g["rows"].get(label, {})
            cps = rr.get("checkpoints", {})
            counts = {k: total_rows(v) for k, v in cps.items()}
            rows_ok = None
            if counts and len(counts) >= 2 and not rr.get("errors"):
                rows_ok = len(set(counts.values())) == 1
            bad = sum(v.get(label, {}).get("non2xx", 0) + v.get(label, {}).get("socket_errors", 0) for v in m.values())
            prop = g.get("propagation", {}).get(label) or {}
            logout = (g.get("logout_latency") or {}).get(label) or {}
            fork = (g.get("fork") or {}).get(label)
            after = rr.get("access_after_logout")
            for key, desc, thr in TARGETS:
                if key.endswith("_vs_allauth") and "allauth" not in g["servers"]:
                    continue
                if isinstance(thr, dict):
                    thr = thr.get(g["db"])
                desc = desc.replace("{thr}", f"{thr:g}" if thr else "")
                if key == "propagation_p99":
                    value = prop.get("p99_ms")
                    ok = None if value is None else value <= thr
                elif key == "logout_p99":
                    value = logout.get("p99_ms")
                    ok = None if value is None else (value <= thr and not logout.get("failed"))
                elif key == "refused_after_logout":
                    value, ok = after, (None if after is None else not 200 <= after < 300)
                elif key == "no_fork":
                    value = None if fork is None else f"{fork['forked']} of {fork['trials']} sessions forked"
                    ok = None if fork is None else fork["forked"] == 0
                elif key == "rows_constant":
                    value, ok = counts, rows_ok
                elif key == "zero_non2xx":
                    value, ok = bad, (bad == 0 if m else None)
                else:
                    value = checks[key]
                    ok = None if value is None else value >= thr
                desc = desc.replace("1000", str(results["options"]["refreshes"]))
                rows.append(
                    {
                        "config": config,
                        "server": label,
                        "target": key,
                        "description": desc,
                        "value": value,
                        "threshold": thr,
                        "pass": ok,
                        "cpu_value": by_cpu.get(key),
                    }
                )
    results["targets"] = rows


def fmt(v, spec=".2f"):
    return "—" if v is None else format(v, spec)


def verdict(status):
    """A credential's fate from the status it got: 2xx accepted, anything else refused."""
    if status is None:
        return "—"
    return f"accepted ({status})" if 200 <= status < 300 else f"refused ({status})"


def tables(results):
    """Markdown tables (also printed)."""
    lines = [
        "| db | measurement | server | 2xx req/s | p50 ms | p99 ms | non-2xx | socket err | ÷ simplejwt | ÷ allauth "
        "| workers' CPU µs/req | ÷ simplejwt (CPU) | ÷ allauth (CPU) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in results["groups"]:
        for name in ("public", "protected", "spread", "refresh", "login"):
            per = g["measurements"].get(name)
            if not per:
                continue
            for label, r in per.items():
                # authgate (and a baseline) against both references; allauth against simplejwt.
                ratios, cpu_ratios = [], []
                for reference in REFERENCES:
                    ref = per.get(reference, {}).get("rps")
                    mine = label not in REFERENCES or (label == "allauth" and reference == "simplejwt")
                    ratios.append(f"{r['rps'] / ref:.2f}×" if ref and mine else "")
                    ref_cpu, my_cpu = per.get(reference, {}).get("cpu_us"), r.get("cpu_us")
                    cpu_ratios.append(f"{ref_cpu / my_cpu:.2f}×" if ref_cpu and my_cpu and mine else "")
                cpu = f"{r['cpu_us']:.0f}" if r.get("cpu_us") else "—"
                lines.append(
                    f"| {g['db']} | {name} | {label} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['non2xx']} | {r['socket_errors']} | "
                    + " | ".join(ratios)
                    + f" | {cpu} | "
                    + " | ".join(cpu_ratios)
                    + " |"
                )
    baseline_rows = []
    for g in results["groups"]:
        for name in ("public", "protected", "refresh", "login"):
            per = g["measurements"].get(name, {})
            base = next((r for label, r in per.items() if label.startswith("baseline@")), None)
            if base and per.get("authgate") and base["rps"]:
                baseline_rows.append(
                    f"| {g['db']} | {name} | {per['authgate']['rps']:.1f} | {base['rps']:.1f} | "
                    f"{per['authgate']['rps'] / base['rps']:.2f}× |"
                )
    if baseline_rows:
        rev = results.get("baseline", {})
        lines += [
            "",
            f"This tree against the baseline {rev.get('rev')} ({rev.get('commit')}), same run, alternated:",
            "",
            "| db | measurement | this tree req/s | baseline req/s | ratio |",
            "|---|---|---:|---:|---:|",
            *baseline_rows,
        ]
    lines += [
        "",
        "Stored rows for one session (login, then N sequential refreshes), and logout:",
        "",
        "| db | server | after login | after 1 | after 10 | after 1000 | tables | access token after logout |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for g in results["groups"]:
        for label, rr in g["rows"].items():
            cps = rr.get("checkpoints", {})
            last = max(cps, key=int) if cps else None
            cells = [fmt(total_rows(cps.get(k)), "d") if cps.get(k) is not None else "—" for k in ("0", "1", "10")]
            cells.append(f"{total_rows(cps[last])} (n={last})" if last and last not in ("0", "1", "10") else "—")
            tabs = ", ".join(f"{t}={n}" for t, n in (cps.get(last) or {}).items())
            after = verdict(rr.get("access_after_logout"))
            lines.append(f"| {g['db']} | {label} | " + " | ".join(cells) + f" | {tabs} | {after} |")
    lines += [
        "",
        f"Correctness, as measured: logout, then the session's last access token on the protected "
        f"GET and its last refresh token on the refresh view; parallel refreshes: "
        f"{results['options'].get('fork_fanout')} clients present one fresh session's refresh token at "
        f"the same moment, then each distinct refresh token they got back is presented once more "
        f"(a session forks when two or more of them refresh again):",
        "",
        "| db | server | access token after logout | refresh token after logout | parallel refreshes: "
        "sessions | most 200s for one token | most distinct tokens back | most chains that refresh again | "
        "sessions forked |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for g in results["groups"]:
        for label in g["servers"]:
            rr = g["rows"].get(label, {})
            fork = (g.get("fork") or {}).get(label) or {}
            detail = fork.get("detail") or []
            verdicts = [verdict(rr.get(k)) for k in ("access_after_logout", "refresh_after_logout")]
            lines.append(
                f"| {g['db']} | {label} | {verdicts[0]} | {verdicts[1]} | {fork.get('trials', '—')} | "
                f"{fork.get('max_answered_200', '—')} | {max((d['distinct_tokens'] for d in detail), default='—')} | "
                f"{fork.get('max_live_chains', '—')} | {fork.get('forked', '—')} |"
            )
    lines += [
        "",
        "Logout latency under load: one client logs sessions out one after another (each server's "
        "own logout view, a new connection each) while wrk drives protected GETs at the same server "
        f"({results['options']['connections']} connections; 2 workers); rounds alternated. Idle: "
        f"{IDLE_LOGOUTS} logouts per round before the load starts. The GETs' own latency in the same "
        "window shows the queue every request waits in:",
        "",
        "| db | server | logouts | p50 ms | p99 ms | max ms | failed | idle p50 ms | GETs meanwhile 2xx/s | "
        "GET p50 ms | GET p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in results["groups"]:
        for label, lo in (g.get("logout_latency") or {}).items():
            lines.append(
                f"| {g['db']} | {label} | {lo['logouts']} | {fmt(lo['p50_ms'], '.1f')} | {fmt(lo['p99_ms'], '.1f')} | "
                f"{fmt(lo['max_ms'], '.1f')} | {lo['failed']} | {fmt(lo.get('idle_p50_ms'), '.1f')} | "
                f"{fmt(lo['get_rps'], '.0f')} | {fmt(lo.get('get_p50_ms'), '.1f')} | {fmt(lo.get('get_p99_ms'), '.1f')} |"
            )
    lines += [
        "",
        "Session cache hit rate during the spread measurement, and revocation propagation to "
        "another process (commit -> gone from its cache; bench/propagation.py):",
        "",
        "| db | server | spread: sessions | cache hits / lookups | propagation p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for g in results["groups"]:
        for label in [lb for lb in g["servers"] if lb.startswith("authgate")]:
            hits = (g.get("cache_hits") or {}).get(label)
            rate = f"{hits['hits'] / hits['lookups']:.1%} of {hits['lookups']}" if hits else "—"
            prop = (g.get("propagation") or {}).get(label) or {}
            lines.append(
                f"| {g['db']} | {label} | {results['options'].get('spread', '—')} | {rate} | "
                f"{fmt(prop.get('p50_ms'), '.3f')} | {fmt(prop.get('p99_ms'), '.3f')} | "
                f"{fmt(prop.get('max_ms'), '.3f')} |"
            )
    lines += [
        "",
        "The verdict is on throughput (2xx req/s); the same ratio by the gunicorn workers' CPU per "
        "request (not the database server's) is beside it:",
        "",
        "| config | target | value | pass | by server CPU |",
        "|---|---|---|---|---|",
    ]
    for t in results.get("targets", []):
        v = t["value"]
        if isinstance(v, float) and t["target"] in ("propagation_p99", "logout_p99"):
            vs = f"{v:.3f} ms"
        elif isinstance(v, float):
            vs = f"{v:.2f}×"
        elif t["target"] == "refused_after_logout":
            vs = verdict(v)
        elif isinstance(v, dict):
            vs = ", ".join(f"{k}: {n}" for k, n in sorted(v.items(), key=lambda kv: int(kv[0])))
            vs = "rows after N refreshes — " + vs if vs else "—"
        else:
            vs = fmt(v, "") if v is not None else "—"
        ok = {True: "PASS", False: "FAIL", None: "n/a"}[t["pass"]]
        by_cpu = f"{t['cpu_value']:.2f}×" if t.get("cpu_value") else ""
        lines.append(f"| {t['config']} | {t['description']} | {vs} | {ok} | {by_cpu} |")
    return "\n".join(lines)


def write_results_md(results, table_md):
    path = BENCH / "RESULTS.md"
    m = results["machine"]
    v = results["versions"]
    lines = [
        "<!-- bench:begin -->",
        f"## Run of {results['date']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, {m['os']}. "
        f"Load generator on the same machine (wrk, {results['options']['threads']} threads). "
        f"Load average at start: {m.get('loadavg_at_start')}, at end: {m.get('loadavg_at_end')} (other work on the machine adds noise; "
        f"the servers are measured alternately so it falls on both).",
        "",
        "Versions: "
        + "; ".join(f"{who}: " + ", ".join(f"{k} {val}" for k, val in d.items()) for who, d in v.items())
        + ".",
        "",
        f"Settings: gunicorn sync workers, `--workers {results['options']['workers']} --threads 1`, "
        f"same for every server; {results['options']['connections']} connections for GET and refresh, "
        f"{results['options']['login_connections']} for login; {results['options']['rounds']} alternated rounds of "
        f"{results['options']['duration']} s ({results['options']['login_duration']} s for login) per server "
        f"and measurement; {results['options']['sessions']} sessions per refresh round. "
        f"authgate commit: {results.get('authgate_commit') or 'uncommitted'}.",
        "",
        table_md,
        "",
    ]
    errs = [e for g in results["groups"] for e in g["errors"]] + results.get("errors", [])
    findings = [(g["db"], lb, hits) for g in results["groups"] for lb, hits in g.get("log_findings", {}).items()]
    if errs or findings:
        lines += ["Problems seen in this run:", ""]
        lines += [f"- {e}" for e in errs]
        lines += [f"- {db} {lb} server log: `{h[0][:200]}` ({len(h)} lines)" for db, lb, h in findings]
        lines.append("")
    lines.append("<!-- bench:end -->")
    block = "\n".join(lines)
    if path.exists():
        old = path.read_text()
        if "<!-- bench:begin -->" in old and "<!-- bench:end -->" in old:
            new = re.sub(r"<!-- bench:begin -->.*?<!-- bench:end -->", lambda _: block, old, flags=re.S)
            path.write_text(new)
            return
    header = (
        "# Benchmark results: authgate vs djangorestframework-simplejwt and django-allauth\n\n"
        "Written by `make bench` (bench/run.py); notes outside the bench markers are kept "
        "when it runs again. What each figure means: bench/README.md.\n\n"
    )
    path.write_text(header + block + "\n")


def machine_info():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(authgate_ok, pg_version):
    out = {}
    for who, py in (
        ("authgate", AUTHGATE_VENV / "bin" / "python"),
        ("simplejwt", REF_VENV / "bin" / "python"),
        ("allauth", ALLAUTH_VENV / "bin" / "python"),
    ):
        if (who == "authgate" and not authgate_ok) or not py.exists():
            continue
        try:
            out[who] = json.loads(run([str(py), str(TASKS), "versions"], timeout=60).stdout.split("RESULT ", 1)[1])
        except Exception as exc:  # noqa: BLE001
            out[who] = {"error": str(exc)[:200]}
    tools = {}
    try:
        tools["wrk"] = (run(["wrk", "-v"], check=False).stdout.split() or ["?", "?"])[1]
    except Exception:  # noqa: BLE001
        pass
    if pg_version:
        tools["postgresql"] = pg_version
    info = redis_command("INFO server")
    if info:
        mv = re.search(r"redis_version:(\S+)", info)
        if mv:
            tools["redis"] = mv.group(1)
    out["tools"] = tools
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dbs", default="sqlite,postgres", help="comma list of sqlite, postgres")
    ap.add_argument(
        "--servers", default="authgate,simplejwt,allauth", help="comma list of authgate, simplejwt, allauth"
    )
    ap.add_argument("--no-redis", action="store_true", help="skip authgate + Redis (on PostgreSQL)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per round for GET and refresh (<= 15)")
    ap.add_argument("--login-duration", type=int, default=4, help="seconds per round for login (<= 15)")
    ap.add_argument("--rounds", type=int, default=2, help="alternated rounds per measurement")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (GET, refresh)")
    ap.add_argument("--login-connections", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    ap.add_argument("--sessions", type=int, default=200, help="sessions per refresh round")
    ap.add_argument("--refreshes", type=int, default=1000, help="refreshes of the rows-per-session chain")
    ap.add_argument("--spread", type=int, default=2000, help="sessions whose tokens the spread GET cycles through")
    ap.add_argument("--propagation", type=int, default=200, help="revocations timed between two processes")
    ap.add_argument("--logouts", type=int, default=300, help="sessions per round of the logout-latency measurement")
    ap.add_argument(
        "--fork-trials", type=int, default=5, help="sessions refreshed in parallel by --fork-fanout clients"
    )
    ap.add_argument("--fork-fanout", type=int, default=8, help="concurrent refreshes of one refresh token")
    ap.add_argument(
        "--only-logout", action="store_true", help="measure the logout latency only (no wrk throughput, no checks)"
    )
    ap.add_argument(
        "--only",
        metavar="MEASUREMENTS",
        help="comma list of the wrk measurements to run (public, protected, spread, login, refresh); "
        "no logout latency, no checks: a targeted comparison",
    )
    ap.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    ap.add_argument("--no-write", action="store_true", help="do not write results.json / RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round of 2 s, 40 sessions, 50 refreshes")
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also serve authgate at git revision REV (e.g. main, HEAD~3), measured alternately "
        "with the working tree: a before/after comparison in one run",
    )
    opts = ap.parse_args()
    if opts.quick:
        opts.duration, opts.login_duration, opts.rounds, opts.sessions, opts.refreshes = 2, 2, 1, 40, 50
        opts.spread, opts.propagation, opts.logouts, opts.fork_trials = 500, 50, 40, 3
    opts.duration = min(opts.duration, 15)
    if opts.only:
        opts.only = {m.strip() for m in opts.only.split(",") if m.strip()}
        unknown_measurements = opts.only - set(MEASUREMENTS)
        if unknown_measurements:
            sys.exit(
                f"bench: unknown measurement(s) {', '.join(sorted(unknown_measurements))}; known: {', '.join(MEASUREMENTS)}"
            )
    opts.login_duration = min(opts.login_duration, 15)

    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (Debian: apt-get install -y wrk)")
    WORK.mkdir(exist_ok=True)

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    wanted = [s.strip() for s in opts.servers.split(",") if s.strip()]
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "options": vars(opts),
        "machine": machine_info(),
        "groups": [],
        "errors": [],
    }

    authgate_ok = "authgate" in wanted
    if authgate_ok:
        missing = [
            p
            for p in (AUTHGATE_VENV / "bin" / "gunicorn", REPO / "server" / "wsgi.py", REPO / "manage.py")
            if not p.exists()
        ]
        if missing:
            authgate_ok = False
            msg = "authgate not benchmarked: missing " + ", ".join(str(p.relative_to(REPO)) for p in missing)
            log(msg)
            results["errors"].append(msg)
    unknown = [w for w in wanted if w not in KINDS]
    if unknown:
        sys.exit(f"bench: unknown server(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    for who, venv in (("simplejwt", REF_VENV), ("allauth", ALLAUTH_VENV)):
        if who in wanted and not (venv / "bin" / "gunicorn").exists():
            sys.exit(f"bench: the {who} reference virtualenv {venv.relative_to(REPO)} is missing; run bench/run.sh")

    pg_ok, pg_info = postgres_available()
    redis_ok = redis_command("PING") is not None and "PONG" in (redis_command("PING") or "")
    try:
        commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=False).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--", "src", "server"], cwd=REPO, check=False).stdout.strip()
        results["authgate_commit"] = (commit + (" + local changes" if dirty else "")) if commit else None
    except Exception:  # noqa: BLE001
        results["authgate_commit"] = None
    results["versions"] = versions(authgate_ok, pg_info if pg_ok else None)
    baseline = export_baseline(opts.baseline) if opts.baseline else None
    if baseline:
        results["baseline"] = {"rev": opts.baseline, "commit": baseline[0]}

    try:
        for db in [d.strip() for d in opts.dbs.split(",") if d.strip()]:
            if db == "postgres" and not pg_ok:
                msg = f"PostgreSQL skipped: {pg_info}"
                log(msg)
                results["errors"].append(msg)
                continue
            servers = []
            if authgate_ok:
                servers.append(Server("authgate", db, workers=opts.workers))
            if authgate_ok and baseline:
                servers.append(Server("authgate", db, workers=opts.workers, baseline=baseline))
            for reference in REFERENCES:
                if reference in wanted:
                    servers.append(Server(reference, db, workers=opts.workers))
            if authgate_ok and db == "postgres" and not opts.no_redis:
                if redis_ok:
                    servers.append(Server("authgate", db, redis=True, workers=opts.workers))
                else:
                    results["errors"].append("authgate + Redis skipped: no Redis on 127.0.0.1:6379")
            if elapsed() > RUN_BUDGET_S - 60:
                results["errors"].append(f"{db} skipped: the run's time budget is used up")
                continue
            bench_group(db, servers, opts, results)
    except KeyboardInterrupt:
        results["errors"].append("interrupted")
        raise
    finally:
        stop_all()

    evaluate(results)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    busy = max(results["machine"]["loadavg_at_start"] + results["machine"]["loadavg_at_end"])
    if busy > (os.cpu_count() or 1):
        results["errors"].append(
            f"the machine was busy with other work (load average up to {busy:.1f} on "
            f"{os.cpu_count()} cores): absolute figures are depressed and ratios noisier; "
            f"run again on an idle machine for the record"
        )
    results["elapsed_seconds"] = round(elapsed(), 1)
    table_md = tables(results)
    print()
    print(table_md)
    for g in results["groups"]:
        for e in g["errors"]:
            print("problem:", e)
        for label, hits in g.get("log_findings", {}).items():
            print(f"server log ({g['db']}, {label}):", *hits[:5], sep="\n    ")
        for label, rr in g["rows"].items():
            for e in rr.get("errors", []):
                print(f"problem ({g['db']}, {label}): {e}")
        for name, per in g["measurements"].items():
            for label, r in per.items():
                if r["bad_sample"]:
                    print(f"non-2xx sample ({g['db']}, {name}, {label}): {r['status_counts']} {r['bad_sample'][:300]}")
    for e in results["errors"]:
        print("problem:", e)
    print(f"\ntotal time: {elapsed():.0f} s")
    if not opts.no_write:
        (BENCH / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        write_results_md(results, table_md)
        print(f"wrote {BENCH / 'results.json'} and {BENCH / 'RESULTS.md'}")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
