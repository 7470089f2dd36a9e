"""
Support for the topology tests: reaching the real PostgreSQL and Redis servers,
throw-away databases, a private `redis-server`, and gunicorn servers run as subprocesses.

Tests marked `postgres` or `redis` need those servers. When one is unreachable the test is
skipped with the reason — except under `CI=true`, where CI promises the services
(`.ci/run` starts them), so an unreachable one fails the test instead of hiding it.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# An administrative connection (create/drop databases); trust auth on this machine and CI.
POSTGRES_ADMIN_URL = os.environ.get("AUTHGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER_URL = os.environ.get("AUTHGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Redis database numbers: 15 is the Redis pass of `make test` (flushed by every test), 14
# belongs to the gunicorn servers of the multi-process tests.
SERVERS_REDIS_DB = int(os.environ.get("AUTHGATE_TEST_SERVERS_REDIS_DB", "14"))

_reachable = {}


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def _check_postgres():
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 — any failure: not usable
        detail = " ".join(str(exc).split())
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL} ({exc.__class__.__name__}: {detail})"


def _check_redis():
    import redis

    try:
        redis.Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis unreachable at {REDIS_SERVER_URL} ({exc.__class__.__name__}: {exc})"


def _check_redis_server_binary():
    if shutil.which("redis-server") is None:
        return "the redis-server program is not installed (Debian package redis-server)"
    return None


def _check_gunicorn():
    if not (VENV_BIN / "gunicorn").exists():
        return f"gunicorn is not installed in {VENV_BIN}"
    return None


_CHECKS = {
    "postgres": _check_postgres,
    "redis": _check_redis,
    "redis-server": _check_redis_server_binary,
    "gunicorn": _check_gunicorn,
}


def unavailable(service):
    """None if `service` can be used, else the reason (checked once per test run)."""
    if service not in _reachable:
        _reachable[service] = _CHECKS[service]()
    return _reachable[service]


def require(*services):
    """Skip (fail under CI=true) unless every named service is usable."""
    for service in services:
        reason = unavailable(service)
        if reason:
            if in_ci():
                pytest.fail(f"CI=true but {reason}", pytrace=False)
            pytest.skip(reason)


def require_marked_services(item):
    """The `postgres`/`redis`/`multiprocess` markers of a test, turned into `require()`."""
    needed = [name for name in ("postgres", "redis") if item.get_closest_marker(name)]
    if item.get_closest_marker("multiprocess"):
        needed.append("gunicorn")
    if needed:
        require(*needed)


# -- throw-away PostgreSQL databases -----------------------------------------------------
def postgres_url(dbname):
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def create_database(prefix="authgate_topology"):
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name):
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def concurrently(count, call):
    """Run `call(i)` for i in range(count), all at once (threads released together by a
    barrier); returns the results in order."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# -- ports and subprocess servers ----------------------------------------------------------
def free_port():
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """A private `redis-server` on a spare port that a test can kill and start again."""

    def __init__(self, port=None, extra_args=()):
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, f"redis-server on port {self.port} answering")
        return self

    def _answers(self):
        import redis

        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def kill(self):
        """Stop it the hard way (no shutdown handshake), as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        wait_until(lambda: not _port_open(self.port), 10, f"port {self.port} closing")

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)


def server_environment(database_url, redis_url=None, secret_key="topology-test-secret-key-" + "x" * 32, **extra):
    """Environment for `manage.py`/gunicorn subprocesses: the service's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="server.settings",
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        DEBUG="0",
        PYTHONPATH=str(ROOT),
        AUTHGATE_LOG_LEVEL="WARNING",
        **extra,
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(env, *args, timeout=120):
    result = subprocess.run(
        [str(VENV_BIN / "python"), str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Gunicorn:
    """`gunicorn server.wsgi:application` on a free port, as a subprocess."""

    def __init__(self, env, workers=2, threads=1, log_dir=None, args=()):
        self.env = env
        self.args = list(args)  # more gunicorn arguments, e.g. ["-c", "server/gunicorn.conf.py"]
        self.port = free_port()
        self.workers = workers
        self.threads = threads
        self.log_path = Path(log_dir or "/tmp") / f"gunicorn-{self.port}.log"
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "server.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                *self.args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, 30, f"gunicorn on port {self.port} answering")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
        return _port_open(self.port)

    def log(self):
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        try:
            self.log_path.unlink()
        except OSError:
            pass
