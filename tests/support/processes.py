"""
Ports, waiting, and the one gunicorn launcher used by the tests and the benches.

Invariants:
- every port comes from the kernel (`free_port`): never a fixed port, so runs in parallel
  on one machine keep apart;
- a `GunicornServer` runs in its own process group (`start_new_session`), and `stop()`
  signals the whole group (TERM, then KILL after a grace period): no worker outlives it;
- `start()` returns only once the server answers (`health_path` with a 200, or the port
  accepting connections when no path is given), or raises with the tail of its log.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 that the kernel just handed out (and that is free again)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `predicate` until it is truthy; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """Status of `GET path` on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def kill_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """TERM the process group of `process` (started with `start_new_session`), KILL it
    after `grace` seconds; also kills stragglers of the group once the leader is gone."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(5)


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc): a gunicorn master's workers."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


class GunicornServer:
    """One gunicorn server as a subprocess on a free port of 127.0.0.1.

    `app` is the WSGI target (e.g. "server.wsgi:application"), run from `cwd` with `env`;
    `gunicorn` is the program (default: the running interpreter's virtualenv).
    """

    def __init__(
        self,
        app: str,
        env: Mapping[str, str],
        *,
        cwd: Path | str = REPO,
        gunicorn: Path | str | None = None,
        workers: int = 2,
        threads: int = 1,
        args: Sequence[str] = (),
        log_path: Path | str | None = None,
        health_path: str | None = None,
        ready_timeout: float = 40.0,
        port: int | None = None,
    ) -> None:
        self.app = app
        self.env = dict(env)
        self.cwd = Path(cwd)
        self.gunicorn = Path(gunicorn) if gunicorn else VENV_BIN / "gunicorn"
        self.workers = workers
        self.threads = threads
        self.args = list(args)
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else Path("/tmp") / f"gunicorn-{self.port}.log"
        self.health_path = health_path
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: object = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.gunicorn),
            self.app,
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            *self.args,
        ]

    def start(self) -> GunicornServer:
        log = open(self.log_path, "w")  # noqa: SIM115 — closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._answers, self.ready_timeout, f"gunicorn on port {self.port} answering", 0.1)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; log {self.log_path}:\n{self.log()}") from exc
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}; log {self.log_path}:\n{self.log()}")
        if self.health_path is None:
            return port_open(self.port)
        return http_status(self.port, self.health_path) == 200

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def workers_pids(self) -> list[int]:
        """The live worker processes (children of the master)."""
        return child_pids(self.process.pid) if self.process else []

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, remove_log: bool = False) -> None:
        if self.process is not None:
            kill_group(self.process)
        log = self._log
        if log is not None and hasattr(log, "close"):
            log.close()
        self._log = None
        if remove_log:
            self.log_path.unlink(missing_ok=True)
