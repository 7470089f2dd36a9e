"""
A gunicorn config for bench/adapters.py's deterministic figure: the Python bytecode
instructions a worker executes per request, counted by a tracer (sys.settrace with opcode
events) installed in each worker after the fork. It counts interpreter work only (not time
spent in C: the kernel, SQLite, the JSON encoder...), but it does not move with the load
of the machine, so two routes compare exactly.

The service's own settings (server/gunicorn.conf.py) apply too when the server run is the
service (its working directory has that file), not for a reference server. Each worker writes its
totals to `$AUTHGATE_BENCH_OPCODES_DIR/<pid>.json` after every request: the bench reads
them before and after a batch and takes the difference. Tracing makes the server ~10x
slower: never measure time with it.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

_service = Path.cwd() / "server" / "gunicorn.conf.py"
if _service.exists():
    exec(compile(_service.read_text(), str(_service), "exec"))  # noqa: S102 — the service's settings

_HERE = __file__
_totals = {"opcodes": 0, "calls": 0, "requests": 0}


def _tracer(frame: Any, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename == _HERE:
        return None  # the hooks below count nothing of their own
    if event == "opcode":
        _totals["opcodes"] += 1
    elif event == "call":
        frame.f_trace_opcodes = True
        _totals["calls"] += 1
    return _tracer


def post_fork(server: Any, worker: Any) -> None:
    sys.settrace(_tracer)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    sys.settrace(None)  # writing the totals is not the request's work
    _totals["requests"] += 1
    path = Path(os.environ["AUTHGATE_BENCH_OPCODES_DIR"]) / f"{os.getpid()}.json"
    path.with_suffix(".tmp").write_text(json.dumps(_totals))
    path.with_suffix(".tmp").replace(path)  # the bench never reads half a file
    sys.settrace(_tracer)
