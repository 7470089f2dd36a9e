#!/usr/bin/env python3
"""
One refresh, server side, on each server: what it asks the database, what the database
spends, how much Python it runs. Deterministic where it can be (statement lists, rows and
HOT updates, commits, Python instructions), so two trees compare on a busy machine.

    .venv/bin/python bench/refresh_profile.py [--servers authgate,allauth] [--redis]
                                              [--baseline REV] [--refreshes 300] [--sessions 50]

For each server (one sync gunicorn worker, `bench/run.py`'s databases and users, its
sessions minted by `bench/tasks.py`), sequential refreshes along each session's chain:

  statements  the statements of one refresh, as PostgreSQL logs them
              (`log_min_duration_statement = 0` on that database only) with their server time
  cpu         per refresh: the worker's CPU, the CPU of the database backends serving it,
              wall time; commits (`pg_stat_database.xact_commit`); rows updated and how many
              of them were HOT updates (`pg_stat_user_tables`) on the table the refresh writes
  python      Python bytecode instructions and calls per refresh in a traced worker
              (bench/python_work.py)

Databases are named `$BENCH_PG_PREFIX_<server>_postgres` (default prefix "bench"), created
and dropped here; the reference servers' virtualenvs are `bench/run.sh`'s. The statements
are read from PostgreSQL's log file (`BENCH_PG_LOG`, default Debian's), which must be
readable. Prints a table and a JSON summary (last line); nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py: servers, databases, tasks)
from run import KINDS, GunicornServer, Server, psql, token_pair  # noqa: E402

PG_LOG = Path(os.environ.get("BENCH_PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
TABLES = {"authgate": "authgate_session", "allauth": "django_session", "simplejwt": "token_blacklist_outstandingtoken"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def backends(db: str) -> list[int]:
    out = psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()").stdout
    return [int(line) for line in out.split()]


def table_stats(db: str, table: str) -> dict[str, int]:
    out = psql(
        "SELECT n_tup_upd, n_tup_hot_upd, n_tup_ins, n_tup_del, "
        "(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), "
        "(SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()) "
        f"FROM pg_stat_user_tables WHERE relname = '{table}'",
        db=db,
    ).stdout.strip()
    upd, hot, ins, dele, commits, rollbacks = (int(v) for v in out.split("|"))
    return {"updated": upd, "hot": hot, "inserted": ins, "deleted": dele, "commits": commits, "rollbacks": rollbacks}


class Chains:
    """Refresh tokens of many sessions, each presented once, its successor queued."""

    def __init__(self, server: Server, tokens: list[str]) -> None:
        self.server, self.queue = server, list(tokens)
        self.path, self.field = KINDS[server.kind]["refresh"], KINDS[server.kind]["refresh_field"]

    def refresh(self, port: int) -> None:
        token = self.queue.pop(0)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({self.field: token}).encode()
        connection.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"{self.server.label}: refresh answered {response.status}: {raw[:300]!r}")
        _access, fresh = token_pair(self.server.kind, json.loads(raw))
        self.queue.append(fresh)


def start(server: Server, config: Path, extra_env: dict[str, str] | None = None) -> GunicornServer:
    return GunicornServer(
        server.wsgi,
        {**server.env, **(extra_env or {})},
        cwd=server.cwd,
        gunicorn=server.gunicorn,
        workers=1,
        threads=1,
        args=["-c", str(config), "--worker-class", "sync", "--log-level", "warning", "--timeout", "120"],
        log_path=server.logfile,
        health_path="/api/public/",
    ).start()


LINE = re.compile(r"\] \S+@(\S+) LOG:  duration: ([0-9.]+) ms  (statement|parse|bind|execute)([^:]*): (.*)")


def statements(server: Server, chains: Chains, config: Path, count: int) -> list[dict[str, Any]]:
    """The statements of `count` refreshes as PostgreSQL logged them, per refresh (the
    last one's list, with the median server time of each position over all of them)."""
    psql(f'ALTER DATABASE "{server.pg_name}" SET log_min_duration_statement = 0')
    try:
        gunicorn = start(server, config)
        try:
            for _ in range(5):
                chains.refresh(gunicorn.port)  # warm-up: the first connection, compiled SQL
            offset = PG_LOG.stat().st_size
            for _ in range(count):
                chains.refresh(gunicorn.port)
            time.sleep(0.3)
            with PG_LOG.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        finally:
            gunicorn.stop(remove_log=False)
    finally:
        psql(f'ALTER DATABASE "{server.pg_name}" RESET log_min_duration_statement')
    seen = []
    for line in text.splitlines():
        match = LINE.search(line)
        if match and match.group(1) == server.pg_name:
            seen.append((match.group(3), float(match.group(2)), match.group(5)[:160]))
    per = len(seen) // count if count else 0
    out = []
    for position in range(per):
        times = sorted(seen[i * per + position][1] for i in range(count))
        phase, _ms, sql = seen[position]
        out.append({"phase": phase, "sql": sql, "ms_median": times[len(times) // 2], "ms_max": times[-1]})
    return out


def cpu(server: Server, chains: Chains, config: Path, count: int, warmup: int = 10) -> dict[str, float]:
    # A backend reports its table and commit counts when it goes idle, at most once a
    # second (or when it exits): they are read with no server connected, before and after.
    before_rows = table_stats(server.pg_name, TABLES[server.kind])
    gunicorn = start(server, config)
    try:
        for _ in range(warmup):
            chains.refresh(gunicorn.port)
        (worker,) = gunicorn.workers_pids()
        pids = backends(server.pg_name)
        before = cpu_seconds(worker), sum(cpu_seconds(p) for p in pids), time.monotonic()
        for _ in range(count):
            chains.refresh(gunicorn.port)
        after = cpu_seconds(worker), sum(cpu_seconds(p) for p in pids), time.monotonic()
    finally:
        gunicorn.stop(remove_log=False)
    time.sleep(0.5)
    after_rows = table_stats(server.pg_name, TABLES[server.kind])
    result = {
        "worker_cpu_ms": round((after[0] - before[0]) / count * 1000, 3),
        "backend_cpu_ms": round((after[1] - before[1]) / count * 1000, 3),
        "wall_ms": round((after[2] - before[2]) / count * 1000, 3),
        "backends": len(pids),
    }
    for key in before_rows:
        # the first reading's own transaction counts once (psql, autocommit)
        delta = after_rows[key] - before_rows[key] - (1 if key == "commits" else 0)
        result[f"{key}_per_refresh"] = round(delta / (count + warmup), 3)
    return result


def python(server: Server, chains: Chains, count: int, work: Path) -> dict[str, float]:
    counts = work / f"opcodes_{server.tag}"
    counts.mkdir(exist_ok=True)
    gunicorn = start(server, BENCH / "python_work.py", {"AUTHGATE_BENCH_OPCODES_DIR": str(counts)})
    sent = 0

    def totals() -> dict[str, int]:
        (pid,) = gunicorn.workers_pids()
        deadline = time.monotonic() + 30
        while True:
            try:
                data: dict[str, int] = json.loads((counts / f"{pid}.json").read_text())
            except FileNotFoundError:
                data = {"requests": -1}
            if data["requests"] >= sent or time.monotonic() > deadline:
                return data
            time.sleep(0.01)

    try:
        # The health check was the first request.
        sent = 1
        for _ in range(10):
            chains.refresh(gunicorn.port)
            sent += 1
        before = totals()
        for _ in range(count):
            chains.refresh(gunicorn.port)
            sent += 1
        after = totals()
    finally:
        gunicorn.stop(remove_log=False)
    served = after["requests"] - before["requests"]
    return {key: round((after[key] - before[key]) / served, 1) for key in ("opcodes", "calls")}


def plain_config(work: Path, server: Server) -> Path:
    """The gunicorn settings the bench uses: the service's own file when the server has one."""
    own = Path(server.cwd) / "server" / "gunicorn.conf.py"
    if own.exists():
        return own
    empty = work / "empty.gunicorn.conf.py"
    empty.write_text("")
    return empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="authgate,allauth")
    parser.add_argument("--redis", action="store_true", help="also authgate with REDIS_URL")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--refreshes", type=int, default=300, help="per CPU measurement")
    parser.add_argument("--traced", type=int, default=100, help="refreshes counted by the tracer")
    parser.add_argument("--logged", type=int, default=20, help="refreshes whose statements are logged")
    parser.add_argument("--baseline", metavar="REV", help="also authgate at git revision REV (before/after)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--skip", default="", help="comma list of phases to skip: statements,cpu,python")
    opts = parser.parse_args()
    skip = set(filter(None, opts.skip.split(",")))
    run.WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="refresh-profile-", dir=run.WORK))
    servers = [Server(kind, "postgres") for kind in opts.servers.split(",")]
    if opts.baseline:
        servers.insert(0, Server("authgate", "postgres", baseline=run.export_baseline(opts.baseline)))
    if opts.redis:
        servers.append(Server("authgate", "postgres", redis=True))
    results: dict[str, Any] = {}
    for server in servers:
        server.prepare()
        try:
            chains = Chains(server, server.mint_sessions(opts.sessions))
            config = plain_config(work, server)
            entry: dict[str, Any] = {}
            if "statements" not in skip:
                entry["statements"] = statements(server, chains, config, opts.logged)
            if "cpu" not in skip:
                entry["cpu"] = cpu(server, chains, config, opts.refreshes)
            if "python" not in skip:
                entry["python"] = python(server, chains, opts.traced, work)
            results[server.label] = entry
        finally:
            server.stop()
            if not opts.keep:
                server.drop_database()
    for label, entry in results.items():
        print(f"\n== {label}")
        for item in entry.get("statements", []):
            print(f"  {item['ms_median']:7.3f} ms (max {item['ms_max']:7.3f})  {item['phase']:9s} {item['sql']}")
        if "cpu" in entry:
            print("  cpu:", json.dumps(entry["cpu"]))
        if "python" in entry:
            print("  python:", json.dumps(entry["python"]))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
