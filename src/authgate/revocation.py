"""
Revocation storage behind one small interface: "has session X been ended?".

The database is always the record (a `Session` row's `ended_at`). A store may answer the
question *without* the database, to take the per-request check off it:

- `DatabaseRevocationStore` (default): answers UNKNOWN, so authentication reads the session
  row (one query, joined with the user).
- `RedisRevocationStore` (when `REDIS_URL` is set): keeps `revoked:<sid>` keys for as long
  as an access token of that session could still be alive, shared by every process.

Correctness rule: a store may only say "not revoked" when it is sure. Redis is trusted
only while its `synced` marker exists; the marker is set after the store has been filled
from the database, so a Redis that restarted empty (or lost keys) is refilled before it is
believed. Any Redis error makes the store answer UNKNOWN (the database decides) and log a
warning; a process whose revocation write failed deletes the marker once Redis answers
again, which forces the refill.
"""
import logging
import time
from datetime import timedelta

from django.utils import timezone

from .settings import api_settings

logger = logging.getLogger("authgate.revocation")

UNKNOWN = object()  # the store cannot tell: ask the database


class DatabaseRevocationStore:
    """The database is the store: nothing to do beyond the session row itself."""

    answers_without_database = False

    def check(self, session_id):
        return UNKNOWN

    def revoke(self, session_ids, reason):
        return None

    def health(self):
        return "disabled"


class RedisRevocationStore:
    """Shared revocation cache in Redis, trusted only while marked as synced."""

    answers_without_database = True
    RETRY_AFTER_ERROR = 1.0  # seconds a process waits before trying a failed Redis again

    def __init__(self, url, prefix="authgate"):
        import redis

        self._redis_errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.25, socket_timeout=0.25, retry_on_timeout=False
        )
        self.prefix = prefix
        self.synced_key = f"{prefix}:revocations-synced"
        self.lock_key = f"{prefix}:revocations-sync-lock"
        self._down_until = 0.0
        self._missed_writes = False
        self._last_warning = 0.0

    # -- keys and lifetimes -------------------------------------------------------------
    def key(self, session_id):
        return f"{self.prefix}:revoked:{session_id}"

    @staticmethod
    def ttl_seconds():
        # After a session ends, only its already-minted access tokens could still be
        # presented without a database read; none lives longer than this.
        lifetime = api_settings.ACCESS_TOKEN_LIFETIME + api_settings.LEEWAY
        return int(lifetime.total_seconds()) + 60

    # -- failure handling ---------------------------------------------------------------
    def _available(self):
        return time.monotonic() >= self._down_until

    def _failed(self, exc, during):
        self._down_until = time.monotonic() + self.RETRY_AFTER_ERROR
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            logger.warning("Redis unavailable during %s (%s); using the database.", during, exc.__class__.__name__)

    def _recover_if_needed(self):
        """After this process missed a write, make every process distrust Redis until refilled."""
        if self._missed_writes:
            self.client.delete(self.synced_key)
            self._missed_writes = False

    # -- the interface ------------------------------------------------------------------
    def check(self, session_id):
        if not self._available():
            return UNKNOWN
        try:
            self._recover_if_needed()
            synced, reason = self.client.mget(self.synced_key, self.key(session_id))
        except self._redis_errors as exc:
            self._failed(exc, "revocation check")
            return UNKNOWN
        if synced is None:
            self.refill()
            return UNKNOWN
        return reason.decode() if reason is not None else None

    def revoke(self, session_ids, reason):
        session_ids = [str(sid) for sid in session_ids]
        if not session_ids:
            return
        try:
            self._recover_if_needed()
            pipe = self.client.pipeline(transaction=False)
            ttl = self.ttl_seconds()
            for sid in session_ids:
                pipe.set(self.key(sid), reason, ex=ttl)
            pipe.execute()
        except self._redis_errors as exc:
            # The database already holds the revocation; Redis must not be trusted until
            # it has been refilled from it.
            self._missed_writes = True
            self._failed(exc, "revocation write")

    def refill(self):
        """Load recent revocations from the database, then mark Redis as trustworthy."""
        from .models import Session

        try:
            if not self.client.set(self.lock_key, "1", nx=True, ex=30):
                return False  # another process is refilling
            ttl = self.ttl_seconds()
            now = timezone.now()
            since = now - timedelta(seconds=ttl)
            pipe = self.client.pipeline(transaction=False)
            ended = Session.objects.filter(ended_at__gte=since).values_list("id", "end_reason", "ended_at")
            for sid, reason, ended_at in ended.iterator(chunk_size=2000):
                remaining = ttl - int((now - ended_at).total_seconds())
                if remaining > 0:
                    pipe.set(self.key(sid.hex), reason or "revoked", ex=remaining)
            pipe.set(self.synced_key, str(int(time.time())))
            pipe.delete(self.lock_key)
            pipe.execute()
            logger.info("Redis revocation cache refilled from the database.")
            return True
        except self._redis_errors as exc:
            self._failed(exc, "refill")
            return False

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
