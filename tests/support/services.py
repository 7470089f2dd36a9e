"""
Private services a test may kill, restart or fail over: never the machine's shared ones.

- `RedisServer`: a `redis-server` on a free port (no persistence), optionally a replica.
- `RedisSentinel`: a `redis-server --sentinel` watching one master name.
- `PostgresCluster`: its own `initdb` data directory (Debian's binaries under
  /usr/lib/postgresql/*/bin) served by `pg_ctl` on a free port, trust authentication on
  127.0.0.1 only. Restarting or stopping it touches nothing else on the machine.

Invariants: every process listens on 127.0.0.1 and a port from `free_port`; `stop()`/`kill()`
wait until the port is closed; temporary directories are removed by `destroy()`. When run as
root (PostgreSQL refuses to), the cluster's programs run as the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .processes import HOST, free_port, port_open, wait_until


class RedisServer:
    """A private `redis-server` on a spare port that a test can kill and start again."""

    def __init__(self, port: int | None = None, extra_args: list[str] | tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                HOST,
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

    def _answers(self) -> bool:
        import redis

        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Stop it the hard way (no shutdown handshake), as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        wait_until(lambda: not port_open(self.port), 10, f"port {self.port} closing")

    stop = kill

    def client(self) -> Any:
        import redis

        return redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1, socket_timeout=1)


class RedisSentinel:
    """`redis-server --sentinel` on a free port, monitoring `master_name` at `master_port`.

    Short timeouts (down after `down_after_ms`, failover timeout 3 s) so that a failover on
    loopback completes in a few seconds; `quorum` sentinels must agree the master is down.
    """

    def __init__(
        self, master_name: str, master_port: int, workdir: Path, quorum: int = 2, down_after_ms: int = 1000
    ) -> None:
        self.port = free_port()
        self.master_name = master_name
        self.config = Path(workdir) / f"sentinel-{self.port}.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {HOST}",
                    f"dir {workdir}",
                    f"sentinel monitor {master_name} {HOST} {master_port} {quorum}",
                    f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
                    f"sentinel failover-timeout {master_name} 3000",
                    f"sentinel parallel-syncs {master_name} 1",
                    "",
                ]
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> RedisSentinel:
        self.process = subprocess.Popen(
            ["redis-server", str(self.config), "--sentinel", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 10, f"redis sentinel on port {self.port} listening")
        return self

    def master(self) -> tuple[str, int] | None:
        import redis

        try:
            reply = redis.Redis(host=HOST, port=self.port, socket_timeout=1).sentinel_get_master_addr_by_name(
                self.master_name
            )
        except redis.RedisError:
            return None
        return (str(reply[0]), int(reply[1])) if reply else None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL server programs (the newest version installed), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster on a free port: `initdb`, then `pg_ctl start/stop/restart`."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or postgres_bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL server programs (initdb, pg_ctl) are not installed")
        self.bin_dir = found
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="authgate-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            pwd.getpwnam("postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o755)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{dbname}"

    def _run(self, program: str, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self._as_user, str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{self.log()}")
        return result.stdout

    def init(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '{HOST}'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            )
        return self

    def start(self) -> PostgresCluster:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        wait_until(lambda: not port_open(self.port), 10, f"PostgreSQL on port {self.port} closing")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-m", "fast", "-w", "-t", "60", "restart")

    def running(self) -> bool:
        return port_open(self.port)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.data.exists() and port_open(self.port):
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
