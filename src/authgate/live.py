"""
Live connections (websockets, server-sent events...) that must end with their session.

A connection authenticated by a session registers here (`register`) and is told to end
(`LiveConnection.end()`, e.g. a websocket closed with 4001) when that session ends —
logout, logout everywhere, password change, deactivation, admin — on every process.

Invariants:
- what drives it is the revocation bus: every batch of invalidation messages this process
  applies (`revocation.add_invalidation_listener`) reaches `_on_messages`, on the bus's own
  thread, within the propagation bound of the request path;
- `s:<sid>` ends that session's connections at once; `u:<pk>` and `*` (a flush, a new
  subscription, a bus failure) have the named connections re-read from the database on a
  worker thread of this module, never on the bus's thread nor on an event loop;
- on SQLite (a shared word, no push) a watcher thread looks at the word every
  `WATCH_INTERVAL` seconds; with no bus at all (the database store) it re-reads every
  connection's session every `RECHECK_INTERVAL` seconds;
- `end()` is called at most once per connection, from any thread: it must be thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from django.db import close_old_connections, connections

from . import revocation, sessions
from .tokens import Claims, TokenError

logger = logging.getLogger("authgate.live")

WATCH_INTERVAL = 0.1  # seconds: SQLite's shared word
RECHECK_INTERVAL = 1.0  # seconds: no bus at all


class LiveConnection(Protocol):
    claims: Claims  # of the access token that opened it

    def end(self) -> None:
        """Close the connection (called once, from any thread)."""


_lock = threading.Lock()
_by_session: dict[str, set[LiveConnection]] = {}
_executor: ThreadPoolExecutor | None = None
_watcher: threading.Thread | None = None


def register(connection: LiveConnection) -> None:
    """Follow `connection` until `unregister` (or its session ends)."""
    global _executor
    with _lock:
        _by_session.setdefault(connection.claims.session_id, set()).add(connection)
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authgate-live")
            revocation.add_invalidation_listener(_on_messages)
        _ensure_watcher()


def unregister(connection: LiveConnection) -> None:
    with _lock:
        held = _by_session.get(connection.claims.session_id)
        if held is not None:
            held.discard(connection)
            if not held:
                del _by_session[connection.claims.session_id]


def drain(timeout: float = 30.0) -> None:
    """Wait until the re-reads of sessions asked for so far are done (their worker thread
    reads the database on a connection of its own): for a shutdown, or a test about to
    empty its database."""
    with _lock:
        executor = _executor
    if executor is not None:
        executor.submit(lambda: None).result(timeout)


def connections_of(session_id: str) -> set[LiveConnection]:
    with _lock:
        return set(_by_session.get(session_id, ()))


def count() -> int:
    with _lock:
        return sum(len(held) for held in _by_session.values())


def _end(targets: Iterable[LiveConnection]) -> None:
    for connection in targets:
        unregister(connection)
        try:
            connection.end()
        except Exception:  # noqa: BLE001 — one broken connection must not keep others open
            logger.exception("Could not end a live connection")


def _on_messages(messages: list[str]) -> None:
    """An invalidation listener (runs on the bus's thread: returns at once)."""
    doomed: list[LiveConnection] = []
    recheck: list[LiveConnection] = []
    with _lock:
        if not _by_session:
            return
        users = set()
        for message in messages:
            kind, _, key = message.partition(":")
            if kind == "s":
                doomed.extend(_by_session.get(key, ()))
            elif kind == "u":
                users.add(key)
            elif message == revocation.FLUSH:
                recheck = [c for held in _by_session.values() for c in held]
        if users and not recheck:
            recheck = [c for held in _by_session.values() for c in held if c.claims.user_id in users]
    if doomed:
        _end(doomed)
    if recheck and _executor is not None:
        _executor.submit(_recheck, recheck)


def _recheck(targets: list[LiveConnection]) -> None:
    """Re-read each connection's session from the database (worker thread)."""
    close_old_connections()
    try:
        ended = []
        for connection in targets:
            try:
                sessions.access_from_database(connection.claims)
            except TokenError:
                ended.append(connection)
        _end(ended)
    except Exception:  # noqa: BLE001 — the database is down: keep them; the next message retries
        logger.warning("Could not re-read live connections' sessions", exc_info=True)
    finally:
        connections.close_all()  # this thread's own connections only


def _ensure_watcher() -> None:
    """SQLite's word and the database store have no push: a thread looks for them."""
    global _watcher
    if _watcher is not None and _watcher.is_alive():
        return
    _watcher = threading.Thread(target=_watch, name="authgate-live-watch", daemon=True)
    _watcher.start()


def _watch() -> None:
    stop = threading.Event()
    since_recheck = 0.0
    global _watcher
    while True:
        with _lock:
            if not _by_session:
                _watcher = None  # started again by the next register()
                return
        store = revocation.get_store()
        bus = getattr(store, "bus", None)
        if isinstance(bus, revocation.FileBus):
            bus.trusted()  # a changed word empties the cache, which tells `_on_messages`
        elif bus is None:
            since_recheck += WATCH_INTERVAL
            if since_recheck >= RECHECK_INTERVAL:
                since_recheck = 0.0
                with _lock:
                    everyone = [c for held in _by_session.values() for c in held]
                if _executor is not None:
                    _executor.submit(_recheck, everyone)
        else:
            bus.trusted()  # keeps the push bus's listener thread running in this process
        stop.wait(WATCH_INTERVAL)
