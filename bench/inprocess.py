"""
One route of one server, measured in process: the Django application called as WSGI, with
no HTTP, no gunicorn and no load generator, so that what two servers' applications cost can
be told apart from what their process and the machine add.

    .venv/bin/python bench/inprocess.py authgate /api/public/
    .venv/bin/python bench/inprocess.py simplejwt /api/public/
    .venv/bin/python bench/inprocess.py authgate /api/public/ --profile   # where it goes

It prints the CPU time per request (the best of 7 rounds of 2000; the machine's other work
only adds to a round, so the best is the application's own) and, with `--profile`, the
Python bytecode instructions per request by module and by function (sys.settrace with
opcode events: exact and repeatable, but blind to work done in C). Only routes that need no
database row fit (the public GET); the servers' SQLite files are not touched. authgate runs
the service's settings, simplejwt the bench's reference server (bench/reference/), both
from this checkout's virtualenv.
"""

from __future__ import annotations

import argparse
import collections
import io
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SERVERS = {
    "authgate": (REPO, "server.settings"),
    "simplejwt": (REPO / "bench" / "reference", "refserver.settings"),
}


def environ(path: str) -> dict[str, Any]:
    """What gunicorn hands the application for `GET path` from wrk."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", choices=sorted(SERVERS))
    ap.add_argument("path", help="the route, e.g. /api/public/")
    ap.add_argument("--profile", action="store_true", help="also count Python instructions per module and function")
    opts = ap.parse_args()

    cwd, settings = SERVERS[opts.server]
    os.chdir(cwd)
    sys.path.insert(0, str(cwd))
    os.environ.update({"DJANGO_SETTINGS_MODULE": settings, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    os.environ.setdefault("SECRET_KEY", "bench-inprocess-" + "x" * 40)
    os.environ.setdefault("AUTHGATE_STARTUP_WARNED", "1")
    logging.disable(logging.WARNING)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        body = app(environ(opts.path), start_response)
        b"".join(body)
        body.close()  # type: ignore[attr-defined]  # Django's responses have close()

    for _ in range(200):
        call()
    if not statuses[-1].startswith("200"):
        sys.exit(f"{opts.server} GET {opts.path}: {statuses[-1]}")
    best = float("inf")
    for _ in range(7):
        started = time.process_time()
        for _ in range(2000):
            call()
        best = min(best, (time.process_time() - started) / 2000)
    print(f"{opts.server} GET {opts.path}: {best * 1e6:.1f} µs of CPU per request (best of 7 × 2000)")
    if opts.profile:
        profile(call)


def profile(call: Any, requests: int = 200) -> None:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename.split("site-packages/")[-1], code.co_name)] += 1
        elif event == "call":
            frame.f_trace_opcodes = True
        return tracer

    sys.settrace(tracer)
    for _ in range(requests):
        call()
    sys.settrace(None)
    modules: collections.Counter[str] = collections.Counter()
    for (filename, _name), n in counts.items():
        modules[filename] += n
    print(f"Python instructions per request: {sum(counts.values()) / requests:.0f}")
    print("by module:")
    for filename, n in modules.most_common(20):
        print(f"  {n / requests:7.0f}  {filename}")
    print("by function:")
    for (filename, name), n in counts.most_common(25):
        print(f"  {n / requests:7.0f}  {filename}:{name}")


if __name__ == "__main__":
    main()
