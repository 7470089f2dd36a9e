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

Targets: each ratio >= 0.90. The two routes of a pair are measured alternately, in rounds
(A B A B ...), with wrk and the shared scripts of bench/lua, on one SQLite database;
the protected route's token belongs to a live session (the case every request is).
Writes bench/adapters.json. Standard library only, plus the shared process harness
(tests/support) and bench/tasks.py (users and sessions, inside the service's project).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def serve(kind: str, env: dict[str, str], workers: int) -> GunicornServer:
    args = ["--timeout", "60"]
    app = "server.wsgi:application"
    if kind == "asgi":
        app, env = "server.asgi:application", {**env, "SERVER": "asgi"}
        args += ["-k", "uvicorn_worker.UvicornWorker"]
    return GunicornServer(app, env, workers=workers, args=args, health_path="/api/public/").start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per route")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run's default)")
    parser.add_argument("--only", choices=sorted(PAIRS), action="append", help="run only these pairs")
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

    results: dict[str, Any] = {"settings": vars(opts), "pairs": {}}
    for name, (kind, protected, floor) in PAIRS.items():
        if opts.only and name not in opts.only:
            continue
        server = serve(kind, env, opts.workers)
        try:
            for path, credential in ((floor, None), (protected, token)):  # warm-up: caches, imports
                wrk(server.url + path, credential, 1, opts.connections, opts.threads, work)
            measured: dict[str, list[dict[str, Any]]] = {protected: [], floor: []}
            for _ in range(opts.rounds):
                for path, credential in ((floor, None), (protected, token)):
                    measured[path].append(
                        wrk(server.url + path, credential, opts.duration, opts.connections, opts.threads, work)
                    )
        finally:
            server.stop(remove_log=True)
        bad = sum(r["non2xx"] for rounds in measured.values() for r in rounds)
        ratio = rps(measured[protected]) / rps(measured[floor]) if rps(measured[floor]) else 0.0
        results["pairs"][name] = {
            "server": kind,
            "protected": protected,
            "floor": floor,
            "protected_rps": round(rps(measured[protected]), 1),
            "floor_rps": round(rps(measured[floor]), 1),
            "ratio": round(ratio, 3),
            "non_2xx": bad,
            "meets_target": ratio >= TARGET and bad == 0,
        }
        log(
            f"{name:12s} {kind}: {protected} {rps(measured[protected]):8.0f}/s vs {floor} "
            f"{rps(measured[floor]):8.0f}/s  ratio {ratio:.3f} (target >= {TARGET}){'  NON-2XX: ' + str(bad) if bad else ''}"
        )
    (BENCH / "adapters.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(pair["non_2xx"] == 0 for pair in results["pairs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
