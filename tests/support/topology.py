"""
Support for the topology tests: reaching the real PostgreSQL and Redis servers,
throw-away databases, a private `redis-server`, and gunicorn servers run as subprocesses.

Tests marked `postgres` or `redis` need those servers. When one is unreachable the test is
skipped with the reason — except under `CI=true`, where CI promises the services
(`.ci/run` starts them), so an unreachable one fails the test instead of hiding it.
"""

import os
import shutil
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# Re-exported: the topology tests import these from here.
from tests.support.processes import GunicornServer
from tests.support.processes import free_port as free_port
from tests.support.processes import port_open as port_open
from tests.support.processes import wait_until as wait_until
from tests.support.services import RedisServer as RedisServer

ROOT = Path(__file__).resolve().parents[2]
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


def _check_postgres_programs():
    from tests.support.services import postgres_bin_dir

    if postgres_bin_dir() is None:
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed (Debian package postgresql)"
    return None


_CHECKS = {
    "postgres": _check_postgres,
    "postgres-programs": _check_postgres_programs,
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


# -- ports and subprocess servers: the shared harness (tests/support) ---------------------


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


class Gunicorn(GunicornServer):
    """`gunicorn server.wsgi:application` on a free port, as a subprocess."""

    def __init__(self, env, workers=2, threads=1, log_dir=None, args=()):
        port = free_port()
        super().__init__(
            "server.wsgi:application",
            env,
            workers=workers,
            threads=threads,
            args=["--timeout", "60", "--graceful-timeout", "5", *args],
            log_path=Path(log_dir or "/tmp") / f"gunicorn-{port}.log",
            port=port,
        )

    def stop(self, remove_log=True):
        super().stop(remove_log=remove_log)
