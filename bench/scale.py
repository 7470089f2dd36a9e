#!/usr/bin/env python3
"""
Scale figures: 100,000 live sessions on PostgreSQL + Redis under Zipf-distributed traffic,
and `authgate_cleanup` on 1,000,000 dead sessions. Writes bench/SCALE.md (the part between
its markers) and bench/scale.json.

Steps, all on 127.0.0.1, in a database of its own (`--database`, default authgate_scale,
created at the start and dropped at the end unless `--keep`):

1. migrate; `--sessions` live sessions over `--users` users inserted with bulk_create
   (bench/tasks.py bulk-sessions: no login, no Argon2 per session), their access tokens
   in a file; rows and bytes of every authgate table (pg_relation_size, pg_indexes_size,
   pg_total_relation_size after VACUUM ANALYZE) per session.
2. For each `--cache-sizes` value: the service under gunicorn (server/gunicorn.conf.py,
   2 sync workers) with SESSION_CACHE_SIZE set to it and REDIS_URL; wrk with
   lua/get_zipf.lua (the k-th token asked for in proportion to 1/k^s) for `--warmup` s,
   then `--seconds` s measured: the session cache's hits/lookups over the measured part
   (the workers' DEBUG lines; GET /metrics does not expose them), each worker's RSS and PSS
   before and after, requests per second (timing: noisy on a shared machine).
3. Unless `--no-peer`: the protected GET side by side with the simplejwt reference server
   (bench/reference, in bench/.venv-ref, made as bench/run.sh makes it when absent),
   migrated into the same database: the same users, one simplejwt access token per
   authgate session for the same user (bench/tasks.py bulk-access: AccessToken.for_user
   in the reference's project), so the k-th token of the Zipf draw names the same user on
   both. Both servers run at once; `--peer-rounds` rounds of `--peer-seconds` s each,
   alternated (the order swapped every round) after a `--warmup` each: requests per
   second, p50/p99, server CPU per request (user + system time of the master and its
   workers from /proc over the round, divided by the 2xx answers) and authgate's hit rate
   over the rounds; authgate with Redis and the first `--cache-sizes` value.
4. `--dead` sessions past their lifetime inserted by the database (INSERT ... SELECT
   generate_series), then `/usr/bin/time -v manage.py authgate_cleanup` (wall time, peak
   RSS) while a server runs and two probes keep asking: logins (a real password check)
   and protected GETs; every probe answer is counted before, during and after the cleanup.
   `--cleanup-trees` runs the cleanup of other source trees too (e.g. an older checkout),
   each on a fresh set of dead sessions.

Needs wrk, PostgreSQL on 127.0.0.1:5432 (`--pg`), Redis (`--redis`). Bounded: each wrk run
is `--seconds` long, each cleanup is given `--cleanup-timeout` s.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.processes import HOST, GunicornServer  # noqa: E402

LUA = REPO / "bench" / "lua"
TASKS = REPO / "bench" / "tasks.py"
REF_DIR = REPO / "bench" / "reference"
REF_VENV = REPO / "bench" / ".venv-ref"
# The run lasts longer than the default 15 minutes: the minted tokens (both servers') must outlive it.
TOKEN_LIFETIME = 7200
LOGIN = ("scale-login", "Scale-login-passphrase-42")
BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"


# -- the project's side: manage.py and bench/tasks.py in the service's environment ---------
def environment(args: argparse.Namespace, var: Path, tree: Path = REPO) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "AUTHGATE_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        DJANGO_SETTINGS_MODULE="server.settings",
        DATABASE_URL=f"{args.pg}/{args.database}",
        REDIS_URL=args.redis,
        AUTHGATE_REDIS_KEY_PREFIX=args.key_prefix,
        SECRET_KEY="scale-" + "s" * 58,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=f"{tree / 'src'}{os.pathsep}{tree}",  # this tree's package first
        PYTHONUNBUFFERED="1",
        AUTHGATE_VAR_DIR=str(var),
        AUTHGATE_LOG_LEVEL="DEBUG",  # the session cache's hit-rate lines
        AUTHGATE_LOGIN_THROTTLE_USER_IP="1000000/15m",
        AUTHGATE_LOGIN_THROTTLE_IP="1000000/15m",
        AUTHGATE_ACCESS_TOKEN_LIFETIME=str(TOKEN_LIFETIME),
    )
    return env


def peer_environment(args: argparse.Namespace) -> dict[str, str]:
    """The simplejwt reference's environment: the same database as authgate's (its users),
    no Redis (it has no use for one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "AUTHGATE_"))}
    for name in ("PYTHONPATH", "REDIS_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="refserver.settings",
        DATABASE_URL=f"{args.pg}/{args.database}",
        SECRET_KEY="scale-" + "s" * 58,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


def reference_venv() -> Path:
    """bench/.venv-ref's Python, the virtualenv made as bench/run.sh makes it when it is
    absent or older than its requirements file."""
    requirements, stamp = REF_DIR / "requirements.txt", REF_VENV / ".installed"
    fresh = stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime
    if not (REF_VENV / "bin" / "gunicorn").exists() or not fresh:
        print(f"[scale] installing the simplejwt reference server into {REF_VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        pip = [str(REF_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(requirements)], check=True)
        stamp.touch()
    return REF_VENV / "bin" / "python"


def manage(env: dict[str, str], *command: str, python: Path | str = sys.executable, cwd: Path = REPO) -> None:
    subprocess.run([str(python), "manage.py", *command], cwd=cwd, env=env, check=True, capture_output=True)


def task(env: dict[str, str], name: str, python: Path | str = sys.executable, cwd: Path = REPO, **kwargs: Any) -> Any:
    proc = subprocess.run(
        [str(python), str(TASKS), name, json.dumps(kwargs)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"task {name} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def database(args: argparse.Namespace, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{args.database}"')


# -- measuring -------------------------------------------------------------------------------
def wrk(url: str, script: str, seconds: int, env: dict[str, str], connections: int = 16, threads: int = 2) -> dict:
    lua = Path(env["SCALE_WORK"]) / f"{Path(script).stem}.run.lua"
    lua.write_text((LUA / "common.lua").read_text() + "\n" + (LUA / script).read_text())
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua), url]
    proc = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 120)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data: dict = json.loads(line[len("BENCHJSON ") :])
            data["seconds"] = data["duration_us"] / 1e6
            return data
    raise RuntimeError(f"wrk gave no summary ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def memory(pids: list[int]) -> list[dict[str, float]]:
    """RSS and PSS (MB) of each process: PSS shares the pages a worker still shares with
    its master and siblings (forked) among them."""
    out = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))  # type: ignore[union-attr]
        out.append({"pid": pid, "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1)})
    return out


def cache_stats(log: Path, offset: int) -> dict[str, int]:
    text = log.read_text(errors="replace")[offset:]
    found = re.findall(r"session cache: (\d+) hits of (\d+) lookups, (\d+) entries", text)
    return {
        "hits": sum(int(h) for h, _, _ in found),
        "lookups": sum(int(n) for _, n, _ in found),
        "max_entries": max((int(e) for _, _, e in found), default=0),
        "lines": len(found),
    }


def scrape(port: int) -> dict[str, float]:
    """GET /metrics: the session cache's counters, the active-session gauge (a COUNT made at
    scrape time) and how long the scrape took (timing)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    started = time.monotonic()
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out = {"scrape_ms": round((time.monotonic() - started) * 1000, 1)}
    for name, key in (
        (r'authgate_session_cache_lookups_total\{result="hit"\}', "hit"),
        (r'authgate_session_cache_lookups_total\{result="miss"\}', "miss"),
        (r"authgate_active_sessions", "active"),
    ):
        found = re.search(rf"^{name} ([\d.e+]+)$", text, re.M)
        out[key] = float(found.group(1)) if found else 0.0
    return out


def serve(env: dict[str, str], size: int, work: Path, args: argparse.Namespace, tokens: Path) -> dict[str, Any]:
    log = work / f"server-cache-{size}.log"
    server = GunicornServer(
        "server.wsgi:application",
        {**env, "AUTHGATE_SESSION_CACHE_SIZE": str(size)},
        workers=2,
        threads=1,
        args=["-c", "server/gunicorn.conf.py"],
        log_path=log,
        health_path="/api/public/",
    ).start()
    try:
        started = memory(server.workers_pids())
        lua_env = {
            "SCALE_WORK": str(work),
            "BENCH_THREADS": "2",
            "BENCH_TOKENS_FILE": str(tokens),
            "BENCH_ZIPF_S": str(args.zipf),
        }
        url = f"{server.url}/api/protected/"
        warm = wrk(url, "get_zipf.lua", args.warmup, lua_env)
        offset = len(log.read_text(errors="replace"))
        scraped = scrape(server.port)
        measured = wrk(url, "get_zipf.lua", args.seconds, lua_env)
        stats = cache_stats(log, offset)
        scraped_after = scrape(server.port)
        after = memory(server.workers_pids())
    finally:
        server.stop()
    return {
        "cache_size": size,
        "warmup": {k: warm[k] for k in ("ok2xx", "non2xx", "seconds")},
        "measured": measured,
        "rps": measured["ok2xx"] / measured["seconds"],
        "cache": stats,
        "metrics": {
            "hits": scraped_after["hit"] - scraped["hit"],
            "misses": scraped_after["miss"] - scraped["miss"],
            "active_sessions": scraped_after["active"],
            "scrape_ms": [scraped["scrape_ms"], scraped_after["scrape_ms"]],
        },
        "memory_started": started,
        "memory_after": after,
    }


def cpu_seconds(server: GunicornServer) -> float:
    """User + system CPU seconds used so far by a gunicorn master and its live workers."""
    pids = ([server.process.pid] if server.process else []) + server.workers_pids()
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def side_by_side(
    env: dict[str, str], peer_env: dict[str, str], work: Path, args: argparse.Namespace, tokens: dict[str, Path]
) -> dict[str, Any]:
    """authgate and the simplejwt reference both serving; Zipf GETs at each in turn."""
    size = [int(x) for x in args.cache_sizes.split(",") if x][0]
    servers = {
        "authgate": GunicornServer(
            "server.wsgi:application",
            {**env, "AUTHGATE_SESSION_CACHE_SIZE": str(size)},
            workers=2,
            threads=1,
            args=["-c", "server/gunicorn.conf.py"],
            log_path=work / "side-authgate.log",
            health_path="/api/public/",
        ),
        "simplejwt": GunicornServer(
            "refserver.wsgi:application",
            peer_env,
            cwd=REF_DIR,
            gunicorn=REF_VENV / "bin" / "gunicorn",
            workers=2,
            threads=1,
            log_path=work / "side-simplejwt.log",
            health_path="/api/public/",
        ),
    }
    rounds: list[dict[str, Any]] = []
    try:
        for server in servers.values():
            server.start()
        lua_env = {"SCALE_WORK": str(work), "BENCH_THREADS": "2", "BENCH_ZIPF_S": str(args.zipf)}
        for name, server in servers.items():
            wrk(
                f"{server.url}/api/protected/",
                "get_zipf.lua",
                args.warmup,
                {**lua_env, "BENCH_TOKENS_FILE": str(tokens[name])},
            )
        log = servers["authgate"].log_path
        offset = len(log.read_text(errors="replace"))
        for r in range(args.peer_rounds):
            order = list(servers) if r % 2 == 0 else list(servers)[::-1]
            row: dict[str, Any] = {}
            for name in order:
                server = servers[name]
                cpu = cpu_seconds(server)
                m = wrk(
                    f"{server.url}/api/protected/",
                    "get_zipf.lua",
                    args.peer_seconds,
                    {**lua_env, "BENCH_TOKENS_FILE": str(tokens[name])},
                )
                cpu = cpu_seconds(server) - cpu
                row[name] = {
                    "rps": m["ok2xx"] / m["seconds"],
                    "p50_ms": m["p50_us"] / 1000,
                    "p99_ms": m["p99_us"] / 1000,
                    "cpu_ms": 1000 * cpu / m["ok2xx"] if m["ok2xx"] else None,
                    "failed": m["non2xx"] + sum(m[k] for k in m if k.startswith("errors_")),
                    "ok2xx": m["ok2xx"],
                }
            print(f"[scale] round {r + 1}: " + ", ".join(f"{n} {v['rps']:.0f}/s" for n, v in row.items()), flush=True)
            rounds.append(row)
        cache = cache_stats(log, offset)
        rss = {name: [m["rss_mb"] for m in memory(server.workers_pids())] for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    return {"cache_size": size, "rounds": rounds, "cache": cache, "rss_mb": rss}


class Probe(threading.Thread):
    """Asks one thing again and again (a login, or a protected GET with a random live
    token), recording (sent, seconds, status); status 0 is no answer."""

    def __init__(self, port: int, kind: str, tokens: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.kind, self.tokens = port, kind, tokens
        self.records: list[tuple[float, float, int]] = []
        self.stop = threading.Event()
        self.rng = random.Random(5)

    def ask(self) -> int:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            if self.kind == "login":
                body = json.dumps({"username": LOGIN[0], "password": LOGIN[1]})
                conn.request("POST", "/api/auth/login/", body, {"Content-Type": "application/json"})
            else:
                token = self.rng.choice(self.tokens)
                conn.request("GET", "/api/protected/", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic()
            status = self.ask()
            self.records.append((sent, time.monotonic() - sent, status))
            time.sleep(0.1 if self.kind == "login" else 0.02)


def summarize(records: list[tuple[float, float, int]], start: float, end: float) -> dict[str, Any]:
    mine = [(s, d, st) for s, d, st in records if start <= s < end]
    latencies = sorted(d * 1000 for _, d, _ in mine)
    statuses: dict[str, int] = {}
    for _, _, status in mine:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(mine),
        "statuses": statuses,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


def time_v(stderr: str) -> dict[str, float]:
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", stderr)
    seconds = 0.0
    if wall:
        seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return {
        "wall_s": round(seconds, 2),
        "peak_rss_mb": round(int(peak.group(1)) / 1024, 1) if peak else 0.0,
        "cpu_s": round(float(user.group(1)) + float(system.group(1)), 2) if user and system else 0.0,
    }


def cleanup(env: dict[str, str], tree: Path, work: Path, args: argparse.Namespace, tokens: list[str]) -> dict:
    started = time.monotonic()
    inserted = task(env, "dead-sessions", count=args.dead)["inserted"]
    insert_s = time.monotonic() - started
    before = task(env, "table-sizes", prefixes=["authgate_session"])["authgate_session"]
    server = GunicornServer(
        "server.wsgi:application",
        env,
        workers=2,
        threads=1,
        args=["-c", "server/gunicorn.conf.py"],
        log_path=work / f"server-cleanup-{tree.name}.log",
        health_path="/api/public/",
    ).start()
    probes = [Probe(server.port, "login", tokens), Probe(server.port, "protected", tokens)]
    try:
        scraped = scrape(server.port)
        for probe in probes:
            probe.start()
        time.sleep(args.probe_seconds)
        t0 = time.monotonic()
        proc = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "manage.py", "authgate_cleanup"],
            cwd=tree,
            env=environment(args, Path(env["AUTHGATE_VAR_DIR"]), tree),
            capture_output=True,
            text=True,
            timeout=args.cleanup_timeout,
        )
        t1 = time.monotonic()
        time.sleep(args.probe_seconds)
        t2 = time.monotonic()
    finally:
        for probe in probes:
            probe.stop.set()
        for probe in probes:
            probe.join(90)
        server.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"authgate_cleanup failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    after = task(env, "table-sizes", prefixes=["authgate_session"])["authgate_session"]
    return {
        "tree": str(tree),
        "dead_inserted": inserted,
        "insert_s": round(insert_s, 1),
        "sessions_before": before["rows"],
        "sessions_after": after["rows"],
        "output": proc.stdout.strip(),
        "scrape": scraped,
        **time_v(proc.stderr),
        "probes": {
            probe.kind: {
                "before": summarize(probe.records, 0, t0),
                "during": summarize(probe.records, t0, t1),
                "after": summarize(probe.records, t1, t2 + 60),
            }
            for probe in probes
        },
    }


# -- the report ------------------------------------------------------------------------------
def mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def markdown(results: dict[str, Any]) -> str:
    args = results["options"]
    storage = results["storage"]
    session = storage["authgate_session"]
    n = session["rows"]
    lines = [
        f"### Run of {results['when']}",
        "",
        f"`{results['command']}` — {args['sessions']:,} live sessions over {args['users']:,} users, "
        f"PostgreSQL {results['postgres']} + Redis, gunicorn 2 sync workers, wrk 2 threads × 16 "
        f"connections on the same {os.cpu_count()} cores. Load average at the end: {results['load']}. "
        f"Inserting the sessions (bulk_create, tokens signed): {results['insert_s']:.0f} s.",
        "",
        "Storage (after VACUUM ANALYZE; exact, not timing):",
        "",
        "| table | rows | heap | indexes | total | bytes per session |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for table, t in sorted(storage.items()):
        if t["rows"] < n / 100:  # a few rows in a page of their own say nothing per session
            continue
        lines.append(
            f"| {table} | {t['rows']:,} | {mb(t['heap'])} | {mb(t['indexes'])} | {mb(t['total'])} | "
            f"{t['total'] / n:.0f} |"
        )
    lines += [
        "",
        "Indexes of authgate_session: "
        + ", ".join(f"{name} {size / n:.0f} B/session" for name, size in session["index_sizes"].items())
        + ".",
    ]
    if results.get("rows_per_login"):
        r = results["rows_per_login"]
        lines += [
            "",
            f"Rows a real login adds ({r['logins']} logins of one user through the server): "
            + ", ".join(f"{t} {c / r['logins']:.2f}" for t, c in sorted(r["rows"].items()) if c)
            + " per login.",
        ]
    lines += [
        "",
        f"Zipf traffic (s = {args['zipf']}) over the {args['sessions']:,} access tokens, "
        f"{args['warmup']} s warm-up then {args['seconds']} s measured, per SESSION_CACHE_SIZE. Hit rate from "
        "the workers' `session cache: N hits of M lookups` lines over the measured part (exact counts); "
        "memory per worker from /proc (RSS; PSS counts pages shared with the master and the "
        "other worker once); req/s is timing, noisy on this shared machine.",
        "",
        "| SESSION_CACHE_SIZE | lookups | hits | hit rate | hit rate (/metrics) | entries (max) | "
        "worker RSS start → end MB | worker PSS end MB | 2xx req/s | non-2xx | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for s in results["serving"]:
        c, m = s["cache"], s["measured"]
        rate = f"{100 * c['hits'] / c['lookups']:.1f} %" if c["lookups"] else "—"
        rss = ", ".join(
            f"{a['rss_mb']:.0f} → {b['rss_mb']:.0f}" for a, b in zip(s["memory_started"], s["memory_after"])
        )
        pss = ", ".join(f"{b['pss_mb']:.0f}" for b in s["memory_after"])
        counted = s["metrics"]["hits"] + s["metrics"]["misses"]
        scraped = f"{100 * s['metrics']['hits'] / counted:.1f} %" if counted else "—"
        lines.append(
            f"| {s['cache_size']:,} | {c['lookups']:,} | {c['hits']:,} | {rate} | {scraped} | {c['max_entries']:,} | {rss} | "
            f"{pss} | {s['rps']:.0f} | {m['non2xx'] + sum(m[k] for k in m if k.startswith('errors_'))} | "
            f"{m['p50_us'] / 1000:.1f} | {m['p99_us'] / 1000:.1f} |"
        )
    scrapes = [
        f"{s['metrics']['scrape_ms'][-1]:.0f} ms with {s['metrics']['active_sessions']:,.0f} active"
        for s in results["serving"][:1]
    ]
    scrapes += [f"{c['scrape']['scrape_ms']:.0f} ms with {c['sessions_before']:,} rows" for c in results["cleanup"][:1]]
    if scrapes:
        lines += [
            "",
            "GET /metrics (`authgate_active_sessions` is a COUNT made at scrape time; timing): "
            + ", ".join(scrapes)
            + ".",
        ]
    if results.get("peer"):
        lines += peer_markdown(results)
    for c in results["cleanup"]:
        lines += [
            "",
            f"`authgate_cleanup` ({'this tree' if c['tree'] == str(REPO) else c['tree']}) on "
            f"{c['dead_inserted']:,} dead sessions (half ended long ago, all past SESSION_MAX_AGE; inserted by "
            f"INSERT ... SELECT in {c['insert_s']:.0f} s) beside the {args['sessions']:,} live ones, a server "
            f"running: `{c['output']}`",
            "",
            "| wall time | CPU (user + sys) | peak RSS | sessions before → after |",
            "|---:|---:|---:|---|",
            f"| {c['wall_s']:.1f} s | {c['cpu_s']:.1f} s | {c['peak_rss_mb']:.0f} MB | "
            f"{c['sessions_before']:,} → {c['sessions_after']:,} |",
            "",
            "| probe | phase | requests | statuses | p50 ms | max ms |",
            "|---|---|---:|---|---:|---:|",
        ]
        for kind, phases in c["probes"].items():
            for phase, p in phases.items():
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(p["statuses"].items()))
                lines.append(f"| {kind} | {phase} | {p['requests']} | {statuses} | {p['p50_ms']} | {p['max_ms']} |")
    return "\n".join(lines) + "\n"


def peer_markdown(results: dict[str, Any]) -> list[str]:
    args, peer = results["options"], results["peer"]
    names = ("authgate", "simplejwt")

    def median(name: str, key: str) -> float:
        return float(statistics.median(r[name][key] for r in peer["rounds"] if r[name][key] is not None))

    ratios = [r["authgate"]["rps"] / r["simplejwt"]["rps"] for r in peer["rounds"] if r["simplejwt"]["rps"]]
    c = peer["cache"]
    rate = f"{100 * c['hits'] / c['lookups']:.1f} %" if c["lookups"] else "—"
    lines = [
        "",
        f"Protected GET side by side with the simplejwt reference (djangorestframework-simplejwt "
        f"{results['peer_versions'].get('djangorestframework-simplejwt', '?')}, bench/reference) at "
        f"{args['sessions']:,} tokens: the same database (its {results['peer_inserted']['users']:,} users), "
        f"one simplejwt access token per authgate session for the same user (AccessToken.for_user in the "
        f"reference's project: {results['peer_insert_s']:.0f} s), the same Zipf draw (s = {args['zipf']}; the "
        f"k-th token names the same user on both); simplejwt validates the JWT and reads the user row, "
        f"authgate (Redis, SESSION_CACHE_SIZE={peer['cache_size']:,}) checks the session too. Both served "
        f"(gunicorn, 2 sync workers each) at once, {args['warmup']} s warm-up each, then "
        f"{len(peer['rounds'])} rounds of {args['peer_seconds']} s alternated (order swapped every round). "
        "Medians over the rounds; server CPU is the master's and workers' user + system time over "
        "the round divided by its 2xx answers (timing, all of it, on this shared machine).",
        "",
        "| server | 2xx req/s | p50 ms | p99 ms | server CPU ms/req | failed | hit rate | worker RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in names:
        failed = sum(r[name]["failed"] for r in peer["rounds"])
        rss = ", ".join(f"{x:.0f}" for x in peer["rss_mb"].get(name, []))
        lines.append(
            f"| {name} | {median(name, 'rps'):.0f} | {median(name, 'p50_ms'):.1f} | {median(name, 'p99_ms'):.1f} | "
            f"{median(name, 'cpu_ms'):.2f} | {failed} | {rate if name == 'authgate' else '—'} | {rss} |"
        )
    lines += [
        "",
        "| round | " + " | ".join(f"{n} req/s" for n in names) + " | authgate ÷ simplejwt |",
        "|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(peer["rounds"], 1):
        ratio = r["authgate"]["rps"] / r["simplejwt"]["rps"] if r["simplejwt"]["rps"] else 0.0
        lines.append(f"| {i} | " + " | ".join(f"{r[n]['rps']:.0f}" for n in names) + f" | {ratio:.2f}× |")
    if ratios:
        lines += [
            "",
            f"authgate ÷ simplejwt: **{statistics.median(ratios):.2f}×** (median of the rounds' ratios; "
            f"ratio of the medians {median('authgate', 'rps') / median('simplejwt', 'rps'):.2f}×; "
            f"server CPU per request {median('simplejwt', 'cpu_ms') / median('authgate', 'cpu_ms'):.2f}× less).",
        ]
    return lines


def write(text: str) -> Path:
    path = REPO / "bench" / "SCALE.md"
    old = path.read_text() if path.exists() else f"# Scale figures\n\n{BEGIN}\n{END}\n"
    head, _, rest = old.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100_000, help="users the sessions are spread over")
    parser.add_argument("--dead", type=int, default=1_000_000, help="dead sessions for the cleanup (0: skip it)")
    parser.add_argument("--cache-sizes", default="10000,100000", help="SESSION_CACHE_SIZE values, comma-separated")
    parser.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent s")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the protected GET side by side with the simplejwt reference",
    )
    parser.add_argument("--peer-rounds", type=int, default=4, help="alternated rounds per server")
    parser.add_argument("--peer-seconds", type=int, default=30, help="length of each round")
    parser.add_argument("--probe-seconds", type=int, default=10, help="probes alone before and after the cleanup")
    parser.add_argument("--cleanup-timeout", type=int, default=900)
    parser.add_argument("--cleanup-trees", default="", help="other source trees whose cleanup also runs")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="authgate_scale")
    parser.add_argument("--redis", default=f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '10')}")
    parser.add_argument("--key-prefix", default="ag_scale")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/SCALE.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("scale: wrk is not installed (Debian: apt-get install -y wrk)")
    work = Path(tempfile.mkdtemp(prefix="authgate-scale-"))
    var = work / "var"
    var.mkdir()
    env = environment(args, var)
    peer_env = peer_environment(args)
    peer_python = reference_venv() if args.peer else None
    results: dict[str, Any] = {
        "when": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "options": vars(args),
    }
    database(args, create=True)
    try:
        manage(env, "migrate", "--noinput")
        import psycopg

        with psycopg.connect(f"{args.pg}/{args.database}") as conn:
            results["postgres"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        tokens_file = work / "tokens"
        started = time.monotonic()
        print(f"[scale] inserting {args.sessions} sessions", flush=True)
        results["inserted"] = task(
            env, "bulk-sessions", users=args.users, sessions=args.sessions, tokens_file=str(tokens_file)
        )
        results["insert_s"] = time.monotonic() - started
        task(env, "create-users", password=LOGIN[1], names=[LOGIN[0]])
        peer_tokens = work / "peer-tokens"
        if peer_python:
            print("[scale] the simplejwt reference: migrate, mint its access tokens", flush=True)
            manage(peer_env, "migrate", "--noinput", python=peer_python, cwd=REF_DIR)
            results["peer_versions"] = task(peer_env, "versions", python=peer_python, cwd=REF_DIR)
            started = time.monotonic()
            results["peer_inserted"] = task(
                peer_env,
                "bulk-access",
                python=peer_python,
                cwd=REF_DIR,
                sessions=args.sessions,
                lifetime=TOKEN_LIFETIME,
                tokens_file=str(peer_tokens),
            )
            results["peer_insert_s"] = time.monotonic() - started
        results["storage"] = task(env, "table-sizes", prefixes=["authgate_"])
        results["serving"] = []
        for size in [int(x) for x in args.cache_sizes.split(",") if x]:
            print(f"[scale] Zipf traffic, SESSION_CACHE_SIZE={size}", flush=True)
            results["serving"].append(serve(env, size, work, args, tokens_file))
        if peer_python:
            print(f"[scale] side by side with simplejwt, {args.peer_rounds} rounds", flush=True)
            files = {"authgate": tokens_file, "simplejwt": peer_tokens}
            results["peer"] = side_by_side(env, peer_env, work, args, files)
        tokens = tokens_file.read_text().split()
        results["cleanup"] = []
        if args.dead:
            for tree in [REPO] + [Path(t).resolve() for t in args.cleanup_trees.split(",") if t]:
                print(f"[scale] cleanup of {args.dead} dead sessions by {tree}", flush=True)
                results["cleanup"].append(cleanup(env, tree, work, args, tokens))
            logins = sum(
                c["probes"]["login"][p]["statuses"].get("200", 0)
                for c in results["cleanup"]
                for p in ("before", "during", "after")
            )
            rows = task(env, "count-rows", username=LOGIN[0], prefixes=["authgate_"])
            results["rows_per_login"] = {"logins": logins, "rows": rows}
        results["load"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    finally:
        (REPO / "bench" / "scale.json").write_text(json.dumps(results, indent=1, default=str))  # partial on error
        if not args.keep:
            database(args, create=False)
        shutil.rmtree(work, ignore_errors=True)
    text = markdown(results)
    print(text)
    if not args.no_write:
        print(f"wrote {write(text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
