"""
Revocation at memory speed: each server process remembers the sessions it has found live,
and believes that memory only while a push channel (a *bus*) tells it of every change.
Storage and invalidation sit behind one small interface, `get_store()`:

    store.live_user(session_id, user_id)   a user if this process may skip the database
    store.snapshot() / store.remember(...)  fill the cache after a database read
    store.changed(["s:<sid>", "u:<pk>"])    a session ended or a user changed

The database is always the record (a `Session` row's `ended_at`, the user's row). The
cache maps session id -> (user id, user) and is believed only when all of these hold:

- the process is subscribed to its bus and its *own* heartbeat came back less than
  `TRUST` seconds ago (a silent disconnect expires trust by itself);
- the entry was read from the database while subscribed, and no invalidation arrived
  between the read and the insert (the cache's epoch did not move);
- the entry is younger than SESSION_CACHE_TTL (a message lost by something that bypasses
  the bus is forgotten within it), and the cache holds at most SESSION_CACHE_SIZE entries.

On any bus error the process empties its cache and answers from the database until it is
subscribed again and has heard its own echo. The buses:

- `RedisBus` (REDIS_URL): Redis pub/sub; `changed()` publishes after the commit.
- `PostgresBus` (PostgreSQL without Redis): LISTEN on a direct connection; triggers on the
  session and user tables NOTIFY inside the very transaction that changes them, so bulk
  updates and raw SQL are seen too.
- `FileBus` (SQLite): a memory-mapped word beside the database file that any change
  overwrites; every process compares it on each request (one host by nature).

The process that ends a session drops it from its own cache at once; the others are told
after the commit. deployment docs: docs/deployment-scaling.md.
"""

import logging
import os
import select
import threading
import time
import uuid
from collections import OrderedDict

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save

from .settings import RELOADING_SETTINGS, api_settings

logger = logging.getLogger("authgate.revocation")

CHANNEL = "authgate_revocation"  # PostgreSQL channel; Redis: "<REDIS_KEY_PREFIX>:revocation"
FLUSH = "*"  # message: forget every entry

# Called with every batch of messages this process applies (from its bus, or its own
# changes): live connections (`authgate.live`) end with their session. A listener must
# return at once (it may run on the bus's thread) and never raise.
_listeners: list = []


def add_invalidation_listener(callback):
    if callback not in _listeners:
        _listeners.append(callback)


def remove_invalidation_listener(callback):
    if callback in _listeners:
        _listeners.remove(callback)


def _tell_listeners(messages):
    for callback in list(_listeners):
        try:
            callback(messages)
        except Exception:  # noqa: BLE001 — a listener must not break the bus
            logger.exception("Invalidation listener %r failed", callback)


class SessionCache:
    """session id (hex) -> (user id, user, stored at): LRU-bounded, entries expire after `ttl`."""

    def __init__(self, size, ttl):
        self.size = size
        self.ttl = ttl
        self.epoch = 0  # moves on every invalidation: a read that started before one is not stored
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._entries)

    def get(self, session_id, user_id):
        entry = self._entries.get(session_id)
        if entry is None or entry[0] != user_id or time.monotonic() - entry[2] > self.ttl:
            return None
        with self._lock:
            if session_id in self._entries:
                self._entries.move_to_end(session_id)
        return entry[1]

    def put(self, epoch, session_id, user_id, user):
        with self._lock:
            if epoch != self.epoch:
                return
            self._entries[session_id] = (user_id, user, time.monotonic())
            self._entries.move_to_end(session_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def apply(self, messages):
        """Drop what `messages` ("s:<sid>", "u:<user pk>", "*") name."""
        with self._lock:
            self.epoch += 1
            users = set()
            for message in messages:
                kind, _, key = message.partition(":")
                if kind == "s":
                    self._entries.pop(key, None)
                elif kind == "u":
                    users.add(key)
                elif message == FLUSH:
                    self._entries.clear()
            if users and self._entries:
                for session_id in [sid for sid, entry in self._entries.items() if entry[0] in users]:
                    del self._entries[session_id]
        _tell_listeners(messages)

    def clear(self):
        self.apply([FLUSH])


class DatabaseRevocationStore:
    """No bus, so no cache: every request reads its session row (one query, joined with the user)."""

    def live_user(self, session_id, user_id):
        return None

    def snapshot(self):
        return None

    def remember(self, snapshot, session_id, user_id, user):
        return None

    def changed(self, messages):
        # No cache to keep true; this process's live connections still hear of it.
        if _listeners:
            _tell_listeners(messages)
            transaction.on_commit(lambda: _tell_listeners(messages), robust=True)

    def health(self):
        return "disabled"

    def close(self):
        return None


def _private_copy(instance):
    """A copy per request, so that a view editing request.user edits no other request's
    (field values are copied; related objects are loaded again if asked for). Cheaper than
    copy.copy() of a model, which pickles its state."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__ = instance.__dict__.copy()
    clone._state = ModelState()
    clone._state.db = instance._state.db
    clone._state.adding = False
    return clone


class CachingRevocationStore(DatabaseRevocationStore):
    """The session cache, believed only while `bus` is trusted."""

    def __init__(self, bus):
        self.cache = SessionCache(api_settings.SESSION_CACHE_SIZE, api_settings.SESSION_CACHE_TTL.total_seconds())
        self.bus = bus
        bus.cache = self.cache
        self.hits = self.lookups = 0

    STATS_EVERY = 2000  # lookups between two DEBUG lines with the hit rate

    def live_user(self, session_id, user_id):
        self.lookups += 1
        if self.lookups >= self.STATS_EVERY:
            self._log_stats()
        if not self.bus.trusted():
            return None
        user = self.cache.get(session_id, user_id)
        if user is None:
            return None
        self.hits += 1
        return _private_copy(user)

    def _log_stats(self):
        logger.debug("session cache: %d hits of %d lookups, %d entries", self.hits, self.lookups, len(self.cache))
        self.hits = self.lookups = 0

    def snapshot(self):
        return self.cache.epoch if self.bus.trusted() else None

    def remember(self, snapshot, session_id, user_id, user):
        if snapshot is not None:
            self.cache.put(snapshot, session_id, user_id, _private_copy(user))

    def changed(self, messages):
        # Now, so that this process never answers from the entry again; and after the commit,
        # because a concurrent read may have stored the row as it was before it.
        self.cache.apply(messages)

        def after_commit():
            self.cache.apply(messages)
            self.bus.publish(messages)

        transaction.on_commit(after_commit, robust=True)

    def health(self):
        return self.bus.health()

    def close(self):
        self.bus.close()


# -- buses -----------------------------------------------------------------------------------
class BusError(Exception):
    pass


class PushBus:
    """
    A subscription read by a background thread, trusted while heartbeats echo.

    Subclasses provide `_connect()`, `_fileno()`, `_read()` (drain what arrived; call
    `_received(message, own)`), `_send_heartbeat(payload)`, `_disconnect()` and `publish()`.
    The request path calls `trusted()`: if data is waiting on the socket it is read first,
    so a message that reached this host before the request is always applied before it.
    """

    label = "Revocation bus"  # in log messages
    HEARTBEAT = 0.5  # seconds between heartbeats
    TRUST = 2.0  # seconds a heartbeat's echo keeps the cache trusted (the documented bound)
    RETRY = 1.0  # seconds between reconnection attempts

    def __init__(self):
        self.cache = None
        self._lock = threading.RLock()
        self._trusted_until = 0.0
        self._subscribed_at = 0.0
        self._started_at = 0.0
        self._nonce = uuid.uuid4().hex
        self._sent = {}  # heartbeat seq -> monotonic time sent
        self._seq = 0
        self._broken = None
        self._thread = None
        self._pid = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._fences = {}  # fence id -> (nonces of processes yet to acknowledge, Event)
        self._peers = {}  # nonce of another listening process -> when its heartbeat was last seen
        self._last_warning = 0.0

    # -- the request path ------------------------------------------------------------------
    def trusted(self):
        if time.monotonic() >= self._trusted_until:
            self._ensure_thread()
            return False
        try:
            readable = select.select([self._fileno()], [], [], 0)[0]
        except (OSError, ValueError, TypeError, AttributeError):
            return False
        if readable:
            with self._lock:
                try:
                    self._read()
                except Exception as exc:  # noqa: BLE001 — any failure: distrust, the thread reconnects
                    self._fail(exc)
                    return False
        return time.monotonic() < self._trusted_until

    def _ensure_thread(self):
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._stop.is_set() or (
                self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()
            ):
                return
            self._pid = os.getpid()
            self._started_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name=f"authgate-{type(self).__name__}", daemon=True)
            self._thread.start()

    # -- the listener thread ---------------------------------------------------------------
    def _run(self):
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._broken = None
                    self._connect()
                    self._subscribed_at = time.monotonic()
                    self.cache.clear()  # whatever happened before this subscription is unknown
                next_heartbeat = 0.0
                while not self._stop.is_set():
                    if self._broken is not None:
                        raise BusError(str(self._broken))
                    now = time.monotonic()
                    if now >= next_heartbeat:
                        with self._lock:
                            self._heartbeat()
                        next_heartbeat = now + self.HEARTBEAT
                    readable = select.select(
                        [self._fileno(), self._wake_r], [], [], max(0.0, next_heartbeat - time.monotonic())
                    )[0]
                    if self._wake_r in readable:
                        os.read(self._wake_r, 4096)
                    if self._fileno() in readable:
                        with self._lock:
                            self._read()
                    self._after_read()
            except Exception as exc:  # noqa: BLE001
                with self._lock:
                    if not self._stop.is_set():
                        self._fail(exc)
                    self._safe_disconnect()
                self._stop.wait(self.RETRY)
        with self._lock:
            self._safe_disconnect()

    def _heartbeat(self):
        self._seq += 1
        self._sent[self._seq] = time.monotonic()
        if len(self._sent) > 16:  # echoes that never came: forget the oldest
            del self._sent[min(self._sent)]
        self._send_heartbeat(f"hb:{self._nonce}:{self._seq}")

    def _received(self, message, own=True):
        """One message from the bus (called with the lock held)."""
        kind, _, rest = message.partition(":")
        if kind == "hb":
            nonce, _, seq = rest.partition(":")
            if nonce != self._nonce:
                self._peers[nonce] = time.monotonic()
            elif own:
                sent = self._sent.pop(int(seq), None)
                if sent is not None:
                    self._trusted_until = max(self._trusted_until, sent + self.TRUST)
        elif kind == "fence":  # everything sent before it has been applied here: say so
            fence_id, _, sender = rest.partition(":")
            if sender != self._nonce:
                self._send(f"ack:{fence_id}:{self._nonce}")
        elif kind == "ack":
            fence_id, _, nonce = rest.partition(":")
            waiting = self._fences.get(fence_id)
            if waiting is not None:
                waiting[0].discard(nonce)
                if not waiting[0]:
                    waiting[1].set()
        else:
            self.cache.apply(message.split(" "))

    def _send(self, payload):
        raise NotImplementedError

    def _after_read(self):
        """Work the listener thread does without the lock (e.g. network round trips)."""

    def _fail(self, exc):
        self._trusted_until = 0.0
        self._broken = exc
        if self.cache is not None:
            self.cache.clear()
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            logger.warning(
                "%s unavailable (%s: %s); authenticating from the database.", self.label, exc.__class__.__name__, exc
            )

    def _safe_disconnect(self):
        try:
            self._disconnect()
        except Exception:  # noqa: BLE001 — already broken
            pass

    def wait_for_fence(self, send):
        """
        Make every listening process confirm that it has applied what was sent before now:
        `send(payload)` delivers a fence after the changes; each process whose heartbeat was
        heard lately answers it once it has read everything before it. Returns when all have
        answered, or after TRUST seconds: a process that has not answered by then has not
        heard the echo of any heartbeat sent after the fence either (the channel is ordered),
        so it no longer trusts its cache. Either way no process believes a stale entry once
        this returns. False if someone did not answer (it is slow, stuck or gone).
        """
        deadline = time.monotonic() + self.TRUST + 0.25
        # A process that has just started subscribes first, and learns its peers from their
        # next heartbeats. One whose bus is down cannot ask anyone: it does not wait.
        while not self.trusted() or time.monotonic() - self._subscribed_at < 1.5 * self.HEARTBEAT:
            starting = self._thread is not None and time.monotonic() - self._started_at < 2 * self.TRUST
            if time.monotonic() > deadline or not (starting or self.trusted()):
                return False
            time.sleep(0.01)
        fence_id = uuid.uuid4().hex
        now = time.monotonic()
        with self._lock:
            for nonce in [nonce for nonce, seen in self._peers.items() if now - seen >= 2 * self.TRUST]:
                del self._peers[nonce]
            expected = set(self._peers)
        if not expected:
            return True
        event = threading.Event()
        self._fences[fence_id] = (expected, event)
        try:
            send(f"fence:{fence_id}:{self._nonce}")
            return event.wait(max(0.0, deadline - time.monotonic()))
        finally:
            self._fences.pop(fence_id, None)

    def close(self):
        """Stop the thread and close the connections (this process's own only)."""
        self._stop.set()
        self._trusted_until = 0.0
        if self._pid == os.getpid() and self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(2)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def health(self):
        return "disabled"


class RedisBus(PushBus):
    """Redis pub/sub on one channel. Messages are published by `changed()` after the commit."""

    label = "Redis"

    def __init__(self, url, prefix="authgate"):
        super().__init__()
        try:
            import redis
        except ImportError as exc:
            from django.core.exceptions import ImproperlyConfigured

            from .checks import install_hint

            raise ImproperlyConfigured(
                f"REDIS_URL is set but the redis package is not installed: {install_hint('redis')}"
            ) from exc
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors = (redis.RedisError, OSError)
        self.url = url
        self.channel = f"{prefix}:revocation"
        # Short timeouts and no retries: when Redis is slow or gone, the database answers.
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.25, socket_timeout=0.25, retry=Retry(NoBackoff(), 0)
        )
        self._pubsub = self._sub_client = None
        self._outbox = []

    def _connect(self):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Its own client: never silently reconnected (and resubscribed) by redis-py.
        self._sub_client = redis.Redis.from_url(
            self.url, socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self._pubsub = self._sub_client.pubsub()
        self._pubsub.subscribe(self.channel)

    def _fileno(self):
        return self._pubsub.connection._sock.fileno()

    def _read(self):
        while True:
            message = self._pubsub.get_message(timeout=0)
            if message is None:
                return
            if message["type"] == "message":
                self._received(message["data"].decode())

    def _send_heartbeat(self, payload):
        self._send(payload)

    def _disconnect(self):
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            pubsub.close()
            self._sub_client.close()

    def _send(self, payload):
        # Called with the lock held: the listener thread publishes it without the lock, so
        # that a request never waits on a Redis round trip to read the subscription.
        self._outbox.append(payload)
        os.write(self._wake_w, b"x")

    def _after_read(self):
        payloads, self._outbox = self._outbox, []
        if payloads:
            pipe = self.client.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish(self.channel, payload)
            pipe.execute()

    def publish(self, messages):
        """Publish (after the commit), then wait until every subscribed process has applied it."""
        try:
            if len(messages) > 500:
                messages = [FLUSH]
            self.client.publish(self.channel, " ".join(messages))
            if not self.wait_for_fence(lambda payload: self.client.publish(self.channel, payload)):
                logger.warning(
                    "Not every server process acknowledged a revocation: those that did "
                    "not have stopped trusting their cache."
                )
        except self._errors as exc:
            # The database holds the change; other processes forget their entry within the TTL
            # (and at once if they lost Redis too: a broken subscription empties the cache).
            logger.warning(
                "Redis unavailable while publishing a revocation (%s: %s); other processes "
                "drop it within SESSION_CACHE_TTL.",
                exc.__class__.__name__,
                exc,
            )

    def health(self):
        try:
            self.client.ping()
            return "ok"
        except self._errors:
            return "down"


class PostgresBus(PushBus):
    """
    LISTEN on a connection of its own (direct, not through a transaction-pooling proxy).
    Triggers (migration 0006) NOTIFY on every session end and user change, in the changing
    transaction. Heartbeats are NOTIFYs sent on the listening connection itself: an echo
    counts only if it comes from that backend's pid (behind a pooler it would not).
    """

    label = "PostgreSQL LISTEN connection"

    def __init__(self, alias, conninfo=None):
        super().__init__()
        self.alias = alias
        self.conninfo = conninfo
        self._conn = None
        self._fatal = None

    def _params(self):
        if self.conninfo:
            return {"conninfo": self.conninfo}
        settings_dict = connections[self.alias].settings_dict
        params = {
            key: value
            for key, value in (settings_dict.get("OPTIONS") or {}).items()
            if key
            not in {
                "pool",
                "server_side_binding",
                "isolation_level",
                "assume_role",
                "cursor_factory",
                "context",
                "prepare_threshold",
            }
        }
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

    def _connect(self):
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

    def _on_notice(self, diagnostic):
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self._fatal = diagnostic.message_primary or "FATAL"

    def _fileno(self):
        return self._pgconn.socket

    def _read(self):
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

    def _send_heartbeat(self, payload):
        if not any(queued.startswith("hb:") for queued in self._outbox):  # else: trust simply expires
            self._send(payload)

    def _send(self, payload):
        self._outbox.append(payload)
        self._pump()

    def _pump(self):
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

    def _disconnect(self):
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def publish(self, messages):
        """The triggers sent the messages at commit. Make the answer to a logout wait until
        every listening process has applied them: a fence NOTIFY, sent after the commit,
        reaches each listener after them, and each acknowledges it (see `wait_for_fence`)."""

        def send(payload):
            with connections[self.alias].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])

        try:
            if not self.wait_for_fence(send):
                logger.warning(
                    "Not every server process acknowledged a revocation: those that did "
                    "not have stopped trusting their cache."
                )
        except Exception as exc:  # noqa: BLE001 — the change is committed; this was only the wait
            logger.warning("Could not wait for the revocation notification: %s", exc)


class FileBus:
    """
    SQLite (one host): an 8-byte word in a file beside the database, mapped into memory by
    every process. Any change overwrites it with random bytes; a process that sees a value
    other than the one it last saw empties its cache. Reading it costs well under a microsecond.
    """

    def __init__(self, path):
        import mmap

        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self._seen = self._map[:8]
        self.cache = None

    def trusted(self):
        current = self._map[:8]
        if current != self._seen:
            self._seen = current
            self.cache.clear()
        return True

    def publish(self, messages):
        self._map[:8] = os.urandom(8)

    def health(self):
        return "disabled"

    def close(self):
        self._map.close()


# -- the store of this process ---------------------------------------------------------------
_store = None
_inherited: list = []  # stores of a parent process: never used, never closed (their sockets are the parent's)


def _new_store():
    store_class = api_settings.REVOCATION_STORE
    if store_class is not None:
        return store_class()
    if api_settings.SESSION_CACHE_SIZE <= 0:
        return DatabaseRevocationStore()
    if api_settings.REDIS_URL:
        return CachingRevocationStore(RedisBus(api_settings.REDIS_URL, api_settings.REDIS_KEY_PREFIX))
    from .models import Session

    alias = router.db_for_write(Session)
    connection = connections[alias]
    if connection.vendor == "postgresql":
        return CachingRevocationStore(PostgresBus(alias, api_settings.LISTEN_DATABASE_URL))
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict.get("NAME") or "")
        if name and name != ":memory:" and not name.startswith("file:"):
            return CachingRevocationStore(FileBus(f"{name}-revocations"))
    return DatabaseRevocationStore()


def get_store():
    """The configured store (one per process)."""
    global _store
    if _store is None:
        _store = _new_store()
    return _store


def reset_store():
    global _store
    store, _store = _store, None
    if store is not None:
        store.close()


def _forget_after_fork():
    # A forked worker trusts nothing it inherited and must not close the parent's sockets.
    global _store
    if _store is not None:
        _inherited.append(_store)
        _store = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _on_setting_changed(*, setting, **kwargs):
    if setting in RELOADING_SETTINGS or setting in {"DATABASES", "AUTH_USER_MODEL"}:
        reset_store()


setting_changed.connect(_on_setting_changed, dispatch_uid="authgate.revocation.reset_store")


def _on_user_saved(sender, instance, created, update_fields=None, **kwargs):
    # Any change but the login timestamp: deactivation, password, permissions, deletion.
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    get_store().changed([f"u:{instance.pk}"])


def _on_user_deleted(sender, instance, **kwargs):
    get_store().changed([f"u:{instance.pk}"])


post_save.connect(_on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="authgate.revocation.user_saved")
post_delete.connect(_on_user_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="authgate.revocation.user_deleted")
