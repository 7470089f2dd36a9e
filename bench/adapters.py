#!/usr/bin/env python3
"""
The adapters' bench: what authentication costs beyond DRF-over-WSGI, as ratios measured
side by side in one run (run by `make bench` after bench/run.sh, or on its own:
`.venv/bin/python bench/adapters.py [--duration S] [--rounds N]`).

  asgi   the service under gunicorn + uvicorn workers (SERVER=asgi):
         GET /api/protected/ with a Bearer token   vs   GET /api/public/ (the ASGI floor)
  ninja  the service under gunicorn (WSGI, as `make run`):
         GET /api/ninja/protected/ with a Bearer token   vs   GET /api/ninja/public/
         (Ninja's own unauthenticated route)
  ninja-async  under ASGI: GET /api/ninja/async/protected/ vs GET /api/ninja/public/

Targets: each ratio >= 0.90. The routes of a pair are measured alternately, in rounds (the
first route changing from round to round), with wrk and the shared scripts of bench/lua, on
one SQLite database; the protected route's token belongs to a live session (the case every
request is). The floor is sent the very same request headers, the same `Authorization:
Bearer <token>` included (it ignores it), so that a ratio compares the work of
authentication only, not that of receiving a 250-byte header the floor was never sent. The
floor without that header ("bare floor", the measure of earlier runs) is measured in the
same rounds and shown beside it, not judged. Two ratios per pair, both as protected / floor
(higher is better):

  cpu         the server's CPU time per request (utime + stime of the workers, from
              /proc/<pid>/stat, over each round), floor / protected: what the route costs
              the server, unmoved by the load generator and other work on the machine. The
              target is judged on it.
  throughput  2xx/s, protected / floor (wall clock: as noisy as the machine is busy).

Each is the median of the per-round ratios (a round = one run of each route, back to
back). The load average is read at the start and end of each pair. Writes
bench/adapters.json and its table into bench/RESULTS.md (between the bench-adapters
markers; the rest of the file is kept). Standard library only, plus the shared process
harness (tests/support) and bench/tasks.py (users and sessions, inside the service's project).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.support.processes import GunicornServer  # noqa: E402  (the shared harness)

PY = REPO / ".venv" / "bin" / "python"
PASSWORD = "Bench-pass-7319!"
SECRET_KEY = "bench-adapters-" + "k" * 50
TARGET = 0.90

PAIRS = {
    "asgi": ("asgi", "/api/protected/", "/api/public/"),
    "ninja": ("wsgi", "/api/ninja/protected/", "/api/ninja/public/"),
    "ninja-async": ("asgi", "/api/ninja/async/protected/", "/api/ninja/public/"),
}


def log(message: str) -> None:
    print(f"[bench adapters] {message}", flush=True)


def task(env: dict[str, str], name: str, **kwargs: Any) -> Any:
    out = subprocess.run(
        [str(PY), str(BENCH / "tasks.py"), name, json.dumps(kwargs)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"no RESULT from bench/tasks.py {name}:\n{out[-2000:]}")


def wrk(url: str, token: str | None, duration: int, connections: int, threads: int, work: Path) -> dict[str, Any]:
    script = work / "get.run.lua"
    script.write_text((BENCH / "lua" / "common.lua").read_text() + "\n" + (BENCH / "lua" / "get.lua").read_text())
    env = dict(os.environ, BENCH_THREADS=str(threads), BENCH_TOKEN=token or "")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 30)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data: dict[str, Any] = json.loads(line[len("BENCHJSON ") :])
            data["seconds"] = data["duration_us"] / 1e6
            return data
    raise RuntimeError(f"wrk gave no summary ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def rps(rounds: list[dict[str, Any]]) -> float:
    seconds = sum(r["seconds"] for r in rounds)
    return sum(r["ok2xx"] for r in rounds) / seconds if seconds else 0.0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def measure(
    server: GunicornServer, path: str, token: str | None, opts: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """One wrk round, with the workers' CPU time per request (None if a worker changed)."""
    pids = server.workers_pids()
    before = cpu_seconds(pids)
    result = wrk(server.url + path, token, opts.duration, opts.connections, opts.threads, work)
    after = cpu_seconds(pids)
    same = server.workers_pids() == pids
    result["rps"] = result["ok2xx"] / result["seconds"] if result["seconds"] else 0.0
    result["cpu_us"] = (after - before) / result["requests"] * 1e6 if same and result["requests"] else None
    return result


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def serve(kind: str, env: dict[str, str], workers: int, config: str = "server/gunicorn.conf.py") -> GunicornServer:
    # As `make run` (and bench/run.py): the service's gunicorn settings.
    args = ["-c", config, "--log-level", "warning", "--timeout", "60"]
    app = "server.wsgi:application"
    if kind == "asgi":
        app, env = "server.asgi:application", {**env, "SERVER": "asgi"}
        args += ["-k", "uvicorn_worker.UvicornWorker"]
    return GunicornServer(app, env, workers=workers, args=args, health_path="/api/public/").start()


Route = tuple[str, str, str | None]  # (label, path, Bearer token or None)


def python_work(
    env: dict[str, str], routes: list[Route], work: Path, requests: int = 50
) -> dict[str, dict[str, float]]:
    """Python bytecode instructions and calls per request of each route (by label), in one
    traced sync worker (bench/python_work.py): the same count on every run, whatever the load."""
    counts = work / "opcodes"
    counts.mkdir(exist_ok=True)
    server = serve("wsgi", {**env, "AUTHGATE_BENCH_OPCODES_DIR": str(counts)}, 1, "bench/python_work.py")

    sent = 0

    def get(path: str, token: str | None) -> None:
        nonlocal sent
        sent += 1
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")

    def totals() -> dict[str, int]:
        (pid,) = server.workers_pids()
        deadline = time.monotonic() + 30
        while True:  # the worker writes its totals after it has answered
            data: dict[str, int] = json.loads((counts / f"{pid}.json").read_text())
            if data["requests"] >= sent or time.monotonic() > deadline:
                return data
            time.sleep(0.01)

    out: dict[str, dict[str, float]] = {}
    try:
        for _label, path, token in routes * 2:  # warm-up: imports, caches, the first connection
            for _ in range(10):
                get(path, token)
        for label, path, token in routes:
            before = totals()
            for _ in range(requests):
                get(path, token)
            after = totals()
            served = after["requests"] - before["requests"]
            out[label] = {key: round((after[key] - before[key]) / served, 1) for key in ("opcodes", "calls")}
    finally:
        server.stop(remove_log=True)
    return out


PROTECTED, FLOOR, BARE = "protected", "floor", "floor_bare"  # the routes of a round, by label


def summarize(
    kind: str,
    protected: str,
    floor: str,
    rounds: list[dict[str, dict[str, Any]]],
    load_start: list[float],
    load_end: list[float],
) -> dict[str, Any]:
    def cpu_ratios(of: str) -> list[float]:
        return [r[of]["cpu_us"] / r[PROTECTED]["cpu_us"] for r in rounds if r[of]["cpu_us"] and r[PROTECTED]["cpu_us"]]

    def cpu_us(of: str) -> float | None:
        return median([r[of]["cpu_us"] for r in rounds if r[of]["cpu_us"]])

    ratios = cpu_ratios(FLOOR)
    rps_ratios = [r[PROTECTED]["rps"] / r[FLOOR]["rps"] for r in rounds if r[FLOOR]["rps"]]
    bad = sum(r[label]["non2xx"] for r in rounds for label in r)
    cpu_ratio = median(ratios)
    return {
        "server": kind,
        "protected": protected,
        "floor": floor,
        "floor_sent_the_token": True,  # the floor gets the protected route's headers (ignores them)
        "protected_cpu_us": cpu_us(PROTECTED),
        "floor_cpu_us": cpu_us(FLOOR),
        "cpu_ratio": cpu_ratio,
        "cpu_ratios": [round(x, 3) for x in ratios],
        "bare_floor_cpu_us": cpu_us(BARE),
        "cpu_ratio_bare_floor": median(cpu_ratios(BARE)),  # the floor without the header: not judged
        "protected_rps": round(rps([r[PROTECTED] for r in rounds]), 1),
        "floor_rps": round(rps([r[FLOOR] for r in rounds]), 1),
        "throughput_ratio": median(rps_ratios),
        "throughput_ratios": [round(x, 3) for x in rps_ratios],
        "non_2xx": bad,
        "load_start": load_start,
        "load_end": load_end,
        "meets_target": cpu_ratio is not None and cpu_ratio >= TARGET and bad == 0,
    }


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if out.returncode == 0 else "unknown"


BEGIN, END = "<!-- bench-adapters:begin -->", "<!-- bench-adapters:end -->"


def write_results_md(results: dict[str, Any]) -> None:
    """The table of this run into bench/RESULTS.md, between the bench-adapters markers."""
    opts = results["settings"]
    lines = [
        BEGIN,
        f"## The adapters' ratios: run of {results['date']}",
        "",
        f"Written by `bench/adapters.py` (`make bench`, `make bench-adapters`): {opts['rounds']} alternated rounds "
        f"of {opts['duration']} s per route, `--workers {opts['workers']}`, {opts['connections']} connections, "
        f"SQLite, wrk on the same machine ({os.cpu_count()} cores). authgate commit: {results['commit']}. "
        "CPU: the workers' utime + stime per request; each ratio is the median of the per-round "
        "ratios, protected ÷ floor (target ≥ 0.90, judged on CPU). The floor is sent the same headers as "
        "the protected route, its Bearer token included (it ignores it): the ratios compare "
        'authentication\'s work only. The "bare floor" columns are the floor without that header '
        "(the floor of the runs made before it was sent the header), measured in the same rounds, not judged.",
        "",
        "| pair | server | protected | floor | CPU µs/req, protected / floor / bare floor | CPU ratio | per round | "
        "CPU ratio, bare floor | 2xx/s, protected / floor | throughput ratio | "
        "Python instructions/req, protected / floor / bare floor | Python-work ratio | "
        "Python-work ratio, bare floor | load average, start → end | non-2xx | pass |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for name, p in results["pairs"].items():
        spread = f"{min(p['cpu_ratios']):.2f}–{max(p['cpu_ratios']):.2f}" if p["cpu_ratios"] else "—"
        work = p.get("python_work")
        lines.append(
            f"| {name} | {p['server']} | `{p['protected']}` | `{p['floor']}` | "
            f"{p['protected_cpu_us']:.0f} / {p['floor_cpu_us']:.0f} / {p['bare_floor_cpu_us']:.0f} | "
            f"**{p['cpu_ratio']:.3f}** | {spread} | {p['cpu_ratio_bare_floor']:.3f} | "
            f"{p['protected_rps']:.0f} / {p['floor_rps']:.0f} | {p['throughput_ratio']:.3f} | "
            + (
                f"{work[PROTECTED]['opcodes']:.0f} / {work[FLOOR]['opcodes']:.0f} / {work[BARE]['opcodes']:.0f} | "
                f"**{p['python_work_ratio']:.3f}** | {p['python_work_ratio_bare_floor']:.3f} | "
                if work
                else "— | — | — | "
            )
            + f"{p['load_start']} → {p['load_end']} | {p['non_2xx']} | {'PASS' if p['meets_target'] else 'FAIL'} |"
        )
    lines.append(END)
    block = "\n".join(lines)
    path = BENCH / "RESULTS.md"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, old, flags=re.S)
    elif "<!-- bench:end -->" in old:  # right after bench/run.py's figures
        new = old.replace("<!-- bench:end -->", "<!-- bench:end -->\n\n" + block, 1)
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per route")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run's default)")
    parser.add_argument("--only", choices=sorted(PAIRS), action="append", help="run only these pairs")
    parser.add_argument("--no-write", action="store_true", help="write bench/adapters.json only, not RESULTS.md")
    parser.add_argument(
        "--no-python-work",
        action="store_true",
        help="skip the traced count of Python instructions per request (WSGI pairs)",
    )
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="authgate-bench-adapters-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="server.settings",
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        AUTHGATE_VAR_DIR=str(work),
        SECRET_KEY=SECRET_KEY,
        DEBUG="0",
        PYTHONPATH=str(REPO),
        AUTHGATE_LOG_LEVEL="WARNING",
    )
    subprocess.run([str(PY), "manage.py", "migrate", "--noinput"], env=env, cwd=REPO, check=True, capture_output=True)
    names = task(env, "create-users", password=PASSWORD, names=["bench-adapters"])
    (token,) = task(env, "mint-access", kind="authgate", names=names, count=1)

    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit(),
        "settings": vars(opts),
        "pairs": {},
    }
    for name, (kind, protected, floor) in PAIRS.items():
        if opts.only and name not in opts.only:
            continue
        load_start = load_average()
        server = serve(kind, env, opts.workers)
        try:
            routes: list[Route] = [(FLOOR, floor, token), (PROTECTED, protected, token), (BARE, floor, None)]
            for _label, path, credential in routes:  # warm-up: caches, imports
                wrk(server.url + path, credential, 1, opts.connections, opts.threads, work)
            rounds: list[dict[str, dict[str, Any]]] = []
            for number in range(opts.rounds):
                shift = number % len(routes)  # each route goes first in turn
                order = routes[shift:] + routes[:shift]
                rounds.append({label: measure(server, path, cred, opts, work) for label, path, cred in order})
        finally:
            server.stop(remove_log=True)
        results["pairs"][name] = pair = summarize(kind, protected, floor, rounds, load_start, load_average())
        if kind == "wsgi" and not opts.no_python_work:
            ops = python_work(env, [(FLOOR, floor, token), (PROTECTED, protected, token), (BARE, floor, None)], work)
            pair["python_work"] = ops
            pair["python_work_ratio"] = round(ops[FLOOR]["opcodes"] / ops[PROTECTED]["opcodes"], 3)
            pair["python_work_ratio_bare_floor"] = round(ops[BARE]["opcodes"] / ops[PROTECTED]["opcodes"], 3)
        log(
            f"{name:12s} {kind}: cpu µs/request {pair['protected_cpu_us']} vs {pair['floor_cpu_us']}, "
            f"ratio {pair['cpu_ratio']}; {pair['protected_rps']:.0f}/s vs {pair['floor_rps']:.0f}/s, "
            f"ratio {pair['throughput_ratio']} (target >= {TARGET} on cpu; against the floor without the "
            f"header {pair['cpu_ratio_bare_floor']}; load {pair['load_start']} -> {pair['load_end']})"
            + (
                f"; Python opcodes/request {pair['python_work'][PROTECTED]['opcodes']:.0f} vs "
                f"{pair['python_work'][FLOOR]['opcodes']:.0f}, ratio {pair['python_work_ratio']} "
                f"(bare floor {pair['python_work'][BARE]['opcodes']:.0f}, {pair['python_work_ratio_bare_floor']})"
                if "python_work" in pair
                else ""
            )
            + (f"  NON-2XX: {pair['non_2xx']}" if pair["non_2xx"] else "")
        )
    (BENCH / "adapters.json").write_text(json.dumps(results, indent=2) + "\n")
    if not opts.no_write:
        write_results_md(results)
    return 0 if all(pair["non_2xx"] == 0 for pair in results["pairs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
