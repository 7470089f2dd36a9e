"""
`PostgresBus` (PostgreSQL without Redis): LISTEN on a connection of its own (direct, not
through a transaction-pooling proxy).

The database triggers (`revocation.triggers`) NOTIFY every session end and user change
inside the changing transaction, so bulk updates and raw SQL are seen too: `publish()` has
nothing left to send. Heartbeats are NOTIFYs sent on the listening connection itself: an
echo counts only if it comes from that backend's pid (behind a pooler it would not). Fences
are NOTIFYs sent on the request's own connection, after its commit, so they reach every
listener after the triggers' messages.
"""

import select
from collections.abc import Sequence
from typing import Any

from django.db import connections

from ..messages import CHANNEL
from .base import BusError, PushBus

# Connection OPTIONS of Django's that are not libpq parameters.
_NOT_LIBPQ = {
    "pool",
    "server_side_binding",
    "isolation_level",
    "assume_role",
    "cursor_factory",
    "context",
    "prepare_threshold",
}


class PostgresBus(PushBus):
    """LISTEN on a direct connection; the triggers send, this bus only listens and fences."""

    label = "PostgreSQL LISTEN connection"

    def __init__(self, alias: str, conninfo: str | None = None) -> None:
        super().__init__()
        self.alias = alias
        self.conninfo = conninfo
        self._conn: Any = None
        self._pgconn: Any = None
        self._fatal: str | None = None
        self._in_flight = False
        self._outbox: list[str] = []

    def _params(self) -> dict[str, Any]:
        if self.conninfo:
            return {"conninfo": self.conninfo}
        settings_dict = connections[self.alias].settings_dict
        params = {key: value for key, value in (settings_dict.get("OPTIONS") or {}).items() if key not in _NOT_LIBPQ}
        for key, name in (
            ("NAME", "dbname"),
            ("USER", "user"),
            ("PASSWORD", "password"),
            ("HOST", "host"),
            ("PORT", "port"),
        ):
            if settings_dict.get(key):
                params[name] = settings_dict[key]
        params.setdefault("connect_timeout", 5)
        params.setdefault("application_name", "authgate-revocation-listener")
        # A server that vanished without a word is noticed by the missing echo; keepalives
        # make the kernel give up on the socket too.
        params.setdefault("keepalives", 1)
        params.setdefault("keepalives_idle", 5)
        params.setdefault("keepalives_interval", 2)
        params.setdefault("keepalives_count", 2)
        return params

    def _connect(self) -> None:
        import psycopg

        self._fatal = None
        conn = psycopg.Connection.connect(autocommit=True, **self._params())
        # A server-side kill (pg_terminate_backend, shutdown) arrives as a FATAL message
        # while the connection still says OK: treat the message itself as the disconnect.
        conn.add_notice_handler(self._on_notice)
        conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn
        self._pgconn = conn.pgconn
        self._pgconn.nonblocking = 1
        self._in_flight = False
        self._outbox = []

    def _on_notice(self, diagnostic: Any) -> None:
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self._fatal = diagnostic.message_primary or "FATAL"

    def _fileno(self) -> int:
        return int(self._pgconn.socket)

    def _read(self) -> None:
        from psycopg import pq

        pgconn = self._pgconn
        pgconn.consume_input()  # raises when the connection is gone
        # Collect every finished result first: libpq does not hand out a notification that
        # sits behind a result nobody collected.
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                self._in_flight = False
                self._pump()
                break
            if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                raise BusError((result.error_message or b"").decode(errors="replace").strip() or "query failed")
        if self._fatal:
            raise BusError(self._fatal)
        own_pid = pgconn.backend_pid
        while True:
            notify = pgconn.notifies()
            if notify is None:
                break
            self._received(notify.extra.decode(), own=notify.be_pid == own_pid)
        if pgconn.status != pq.ConnStatus.OK:
            raise BusError("connection lost")

    def _send_heartbeat(self, payload: str) -> None:
        if not any(queued.startswith("hb:") for queued in self._outbox):  # else: trust simply expires
            self._send(payload)

    def _send(self, payload: str) -> None:
        self._outbox.append(payload)
        self._pump()

    def _pump(self) -> None:
        """Send what waits in the outbox, as one query, unless one is still in flight (libpq
        runs one query at a time on a connection)."""
        if self._in_flight or not self._outbox or self._conn is None:
            return
        payloads, self._outbox = self._outbox, []
        calls = ", ".join(f"pg_notify($1, ${i + 2})" for i in range(len(payloads)))
        self._pgconn.send_query_params(f"SELECT {calls}".encode(), [CHANNEL.encode()] + [p.encode() for p in payloads])
        self._in_flight = True
        while self._pgconn.flush():
            select.select([], [self._fileno()], [], 1)

    def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def _send_fence(self, payload: str) -> None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])

    def publish(self, messages: Sequence[str]) -> bool:
        """Nothing to send: the triggers sent the messages at commit."""
        return True
