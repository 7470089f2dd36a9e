"""
Revocation storage behind one small interface: "has session X been ended?".

The database is always the record (a `Session` row's `ended_at`). A store may answer the
question *without* the database, to take the per-request check off it:

- `DatabaseRevocationStore` (default): answers UNKNOWN, so authentication reads the session
  row (one query, joined with the user).
- `RedisRevocationStore` (when `REDIS_URL` is set): keeps `revoked:<sid>` keys for as long
  as an access token of that session could still be alive, shared by every process, and
  `live:<sid>` keys (session seen live, owned by user U) so that it can also vouch that a
  token names an existing session of its user, as the database path checks.

Correctness rule: a store may only say "not revoked" when it is sure. Whenever the Redis
store is unsure it answers UNKNOWN and the database decides, so a fault costs speed, never
a wrongly accepted token. Redis is believed only while its `synced` marker is there, and:

- the marker is written only after the revocations of the last access-token lifetime have
  been copied from the database into Redis (a *sync*), so a Redis that restarted empty,
  was flushed, or lost keys is refilled before it is believed;
- the marker names the Redis server's `run_id`; every new connection compares it with the
  server it reached and deletes a marker from another server, so a Redis restored from a
  snapshot (RDB/AOF) or a promoted replica — which hold the marker but may miss the latest
  keys — is refilled too;
- a process whose revocation write failed deletes the marker (and bumps a `dirty` counter
  that cancels any sync in flight) as soon as it reaches Redis again;
- the marker is a lease: a sync older than `RENEW_AFTER` seconds is renewed (revocations
  of the last minute re-copied from the database) before it is believed again, so even a
  write lost in a way no process could report (a process killed after its write failed,
  a network partition that only one process is on the wrong side of, a fresh key evicted
  under memory pressure) can mislead others for at most that long.

A present `revoked` key is believed without the marker (it can only err towards refusing);
a `live` key counts only when there is no `revoked` key under a fresh marker. `live` keys
are written at login and rotation and after the database path found a session live; a
revocation written concurrently wins, because its `revoked` key outlives every access
token minted before it.

`sessions.end_sessions()` writes to the store inside its database transaction, before the
commit, so a crash between the two leaves an extra "revoked" key (a session refused that
the database still holds open, until the key expires), never a missing one.
"""
import logging
import time
from datetime import datetime, timezone as dt_timezone

from django.utils import timezone

from .settings import api_settings

logger = logging.getLogger("authgate.revocation")

UNKNOWN = object()  # the store cannot tell: ask the database


class DatabaseRevocationStore:
    """The database is the store: nothing to do beyond the session row itself."""

    answers_without_database = False

    def check(self, session_id, user_id=None):
        return UNKNOWN

    def confirm(self, session_id, user_id):
        return None

    def revoke(self, session_ids, reason):
        return None

    def health(self):
        return "disabled"


def _run_id(info_text):
    """The `run_id` line of `INFO server` (changes at every Redis start)."""
    for line in info_text.splitlines():
        if line.startswith(b"run_id:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


class RedisRevocationStore:
    """Shared revocation cache in Redis, believed only under a fresh `synced` marker."""

    answers_without_database = True
    RETRY_AFTER_ERROR = 1.0  # seconds a process leaves a failed Redis alone (answers from the DB)
    RENEW_AFTER = 5.0  # seconds after a sync before it must be renewed to be believed
    LEASE = 60  # seconds the marker lives if nobody renews it (then: full refill)
    RECONCILE_MARGIN = 60  # seconds of overlap a renewal re-reads (commit delay, clock skew)
    WRITE_CHUNK = 1000  # keys per pipeline round trip
    SYNC_LOCK_TIMEOUT = 30  # seconds; a sync that dies holding the lock blocks others this long

    def __init__(self, url, prefix="authgate"):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis_errors = (redis.RedisError, OSError)
        self._watch_error = redis.WatchError
        self._response_error = redis.ResponseError
        # Short timeouts and no retries: when Redis is slow or gone, the database answers
        # at once instead of every request waiting on it.
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=0.25,
            socket_timeout=0.25,
            retry=Retry(NoBackoff(), 0),
            redis_connect_func=self._on_connect,
        )
        self.prefix = prefix
        self.synced_key = f"{prefix}:revocations-synced"
        self.dirty_key = f"{prefix}:revocations-dirty"
        self.lock_key = f"{prefix}:revocations-sync-lock"
        self._down_until = 0.0
        self._missed_writes = False
        self._last_warning = 0.0

    # -- keys and lifetimes -------------------------------------------------------------
    def key(self, session_id):
        return f"{self.prefix}:revoked:{session_id}"

    def live_key(self, session_id):
        # "This session existed, owned by this user, when last read from the database."
        # Only ever believed together with the revoked key, which wins: see check().
        return f"{self.prefix}:live:{session_id}"

    @staticmethod
    def ttl_seconds():
        # After a session ends, only its already-minted access tokens could still be
        # presented without a database read; none lives longer than this.
        lifetime = api_settings.ACCESS_TOKEN_LIFETIME + api_settings.LEEWAY
        return int(lifetime.total_seconds()) + 60

    # -- connections --------------------------------------------------------------------
    def _on_connect(self, connection):
        """Every new connection: drop a marker written on another server (restart, failover)."""
        connection.on_connect()
        try:
            connection.send_command("INFO", "server")
            run_id = _run_id(connection.read_response())
        except self._response_error:  # INFO disabled by the provider: cannot tell restarts
            return
        connection.send_command("GET", self.synced_key)
        marker = connection.read_response()
        if marker is not None and marker.split(b" ", 1)[0].decode() != run_id:
            connection.send_command("DEL", self.synced_key)
            connection.read_response()
            logger.warning("Redis server changed (restart or failover); revocations will be refilled from the database.")

    def _server_run_id(self, client=None):
        try:
            return (client or self.client).info("server").get("run_id", "")
        except self._response_error:
            return ""

    # -- failure handling ---------------------------------------------------------------
    def _available(self):
        return time.monotonic() >= self._down_until

    def _failed(self, exc, during):
        now = time.monotonic()
        self._down_until = now + self.RETRY_AFTER_ERROR
        if now - self._last_warning > 5 or during == "revocation write":
            self._last_warning = now
            logger.warning(
                "Redis unavailable during %s (%s: %s); authenticating from the database.",
                during, exc.__class__.__name__, exc,
            )

    def _recover_if_needed(self):
        """After this process missed a write: make every process distrust Redis until a new sync."""
        if self._missed_writes:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(self.dirty_key)  # cancels a sync that started before this point
            pipe.delete(self.synced_key)
            pipe.execute()
            self._missed_writes = False
            logger.info("Redis reachable again after a missed revocation write; forcing a refill.")

    # -- the interface ------------------------------------------------------------------
    def check(self, session_id, user_id=None):
        """
        The end reason if revoked; None if surely not revoked (and, when `user_id` is given,
        surely a session of that user); UNKNOWN if the database must say.
        """
        if not self._available():
            return UNKNOWN
        keys = (self.synced_key, self.key(session_id), self.live_key(session_id))
        try:
            self._recover_if_needed()
            marker, reason, owner = self.client.mget(*keys)
            if reason is None:  # a present revoked key is true without any marker
                if marker is None:
                    if not self.sync():
                        return UNKNOWN
                    _, reason, owner = self.client.mget(*keys)
                else:
                    synced_at = float(marker.split(b" ", 1)[1])
                    if time.time() - synced_at > self.RENEW_AFTER:
                        if not self.sync(since=synced_at - self.RECONCILE_MARGIN):
                            return UNKNOWN
                        _, reason, owner = self.client.mget(*keys)
        except self._redis_errors as exc:
            self._failed(exc, "revocation check")
            return UNKNOWN
        except (IndexError, ValueError):  # a marker this code did not write
            return UNKNOWN
        if reason is not None:
            return reason.decode()
        if user_id is not None and owner != str(user_id).encode():
            # Not ended recently, but Redis has not seen this session live for this user
            # (a refilled Redis knows only revocations): the database says if it exists.
            return UNKNOWN
        return None

    def confirm(self, session_id, user_id):
        """Remember that the database just found `session_id` live and owned by `user_id`."""
        if not self._available():
            return
        try:
            self.client.set(self.live_key(session_id), str(user_id), ex=self.ttl_seconds())
        except self._redis_errors as exc:
            self._failed(exc, "confirm")

    def revoke(self, session_ids, reason):
        session_ids = [str(sid) for sid in session_ids]
        if not session_ids:
            return
        if not self._available():
            self._missed_writes = True  # Redis just failed: don't make this request wait on it
            return
        try:
            self._recover_if_needed()
            self._write(((sid, self.ttl_seconds()) for sid in session_ids), reason)
        except self._redis_errors as exc:
            # The database holds the revocation; Redis must not be believed until refilled.
            self._missed_writes = True
            self._failed(exc, "revocation write")

    def _write(self, items, reason=None):
        """SET revoked keys ((session_id, ttl[, reason]) items) in chunked round trips."""
        pipe = self.client.pipeline(transaction=False)
        pending = 0
        for item in items:
            sid, ttl = item[0], item[1]
            pipe.set(self.key(sid), (item[2] if len(item) > 2 else reason) or "revoked", ex=max(1, ttl))
            pending += 1
            if pending >= self.WRITE_CHUNK:
                pipe.execute()
                pending = 0
        if pending:
            pipe.execute()

    def sync(self, since=None):
        """
        Copy revocations ended after `since` (Unix time; default: every one whose access
        tokens may still live) from the database, then (re)write the marker. Returns True
        if Redis may be believed now. One process syncs at a time; the others use the DB.
        """
        from .models import Session

        lock = self.client.lock(self.lock_key, timeout=self.SYNC_LOCK_TIMEOUT, blocking=False)
        try:
            if not lock.acquire():
                return False
            try:
                epoch = self.client.get(self.dirty_key)
                run_id = self._server_run_id()
                started = time.time()  # the marker's time: revocations after it are re-read
                ttl = self.ttl_seconds()
                now = timezone.now()
                oldest = started - ttl
                full = since is None or since < oldest
                cutoff = datetime.fromtimestamp(oldest if full else since, tz=dt_timezone.utc)
                ended = Session.objects.filter(ended_at__gte=cutoff).values_list("id", "ended_at", "end_reason")
                items = (
                    (sid.hex, ttl - int((now - ended_at).total_seconds()), reason or "revoked")
                    for sid, ended_at, reason in ended.iterator(chunk_size=2000)
                )
                self._write(item for item in items if item[1] > 0)
                if full:
                    self._warn_if_evicting()
                # Write the marker only if nothing invalidated this sync meanwhile: no missed
                # write reported (dirty counter) and still the same server (no restart).
                with self.client.pipeline(transaction=True) as pipe:
                    pipe.watch(self.dirty_key)
                    if pipe.get(self.dirty_key) != epoch or self._server_run_id(pipe) != run_id:
                        return False
                    pipe.multi()
                    pipe.set(self.synced_key, f"{run_id} {started:.3f}", ex=self.LEASE)
                    pipe.execute()
            finally:
                try:
                    lock.release()
                except self._redis_errors:
                    pass  # expired or Redis gone: it times out on its own
        except self._watch_error:
            return False
        except self._redis_errors as exc:
            self._failed(exc, "refill")
            return False
        if full:
            logger.info("Redis revocation cache refilled from the database.")
        return True

    refill = sync  # the name used before the marker became a lease

    def _warn_if_evicting(self):
        """Evicted revocation keys would be forgotten revocations: say so loudly."""
        try:
            config = self.client.config_get("maxmemory*")
        except self._response_error:  # CONFIG disabled by the provider
            return
        if int(config.get("maxmemory", 0) or 0) and config.get("maxmemory-policy") != "noeviction":
            logger.warning(
                "Redis has maxmemory with policy %r: it may evict revocation keys. Use "
                "'maxmemory-policy noeviction' (or no maxmemory) for authgate's Redis.",
                config.get("maxmemory-policy"),
            )

    def health(self):
        try:
            self.client.ping()
            return "ok"
        except self._redis_errors:
            return "down"


_store = None


def get_store():
    """The configured store (one per process)."""
    global _store
    if _store is None:
        store_class = api_settings.REVOCATION_STORE
        if store_class is not None:
            _store = store_class()
        elif api_settings.REDIS_URL:
            _store = RedisRevocationStore(api_settings.REDIS_URL, api_settings.REDIS_KEY_PREFIX)
        else:
            _store = DatabaseRevocationStore()
    return _store


def reset_store():
    global _store
    _store = None
