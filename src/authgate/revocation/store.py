"""
The revocation store of a process: what the session lifecycle (`authgate.sessions`) asks,
and the only code that joins a bus to a cache.

    store.user_for(sid, uid, load, arg)   the user of a live session: from memory when this
                                          process may believe it, else `load(arg)` (the
                                          database read), remembered if nothing moved meanwhile
    store.live_user(sid, uid)             its two halves, for callers that must run the
    store.load_user(sid, uid, load, arg)  database read elsewhere (an async view's thread)
    store.changed(["s:<sid>", "u:<pk>"])  a session ended or a user changed
    with store.one_fence(): ...           whatever the block changes is published, and
                                          waited for, once, when it ends

Invariants:

- the cache is believed only while `bus.trusted()`; an entry read from the database is
  stored only if no invalidation arrived between the start of the read and the insert
  (the cache's epoch, taken before the read — callers never see it);
- `changed()` drops the entries from this process's cache at once (so it never answers
  from them again) and once more after the commit (a concurrent read may have stored the
  row as it was before), then has the bus publish them and waits on one fence — one per
  `one_fence()` block however many changes it makes (a password change saves the user
  and ends sessions: one fence, not two). A rolled-back change publishes nothing; a block
  that gathers more than MAX_MESSAGES publishes one FLUSH (its memory stays bounded);
- every user returned from memory is a private copy: a view editing `request.user` edits
  no other request's.
"""

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import transaction
from django.db.models.base import ModelState

from .. import metrics
from ..conf import api_settings
from .buses.base import Bus
from .cache import SessionCache
from .listeners import has_listeners, tell_listeners
from .messages import FLUSH, MAX_MESSAGES

logger = logging.getLogger("authgate.revocation")

T = TypeVar("T")
# load(arg) -> (user, cacheable): the database read of a session's user; `cacheable` is
# False when the entry must not be remembered (e.g. the session id was not canonical).
Loader = Callable[[T], tuple[Any, bool]]


class DatabaseRevocationStore:
    """No bus, so no cache: every request reads its session row (one query, joined with the user)."""

    def user_for(self, session_id: str, user_id: str, load: Loader[T], arg: T) -> Any:
        return load(arg)[0]

    def load_user(self, session_id: str, user_id: str, load: Loader[T], arg: T) -> Any:
        return load(arg)[0]

    def live_user(self, session_id: str, user_id: str) -> Any:
        return None

    def snapshot(self) -> int | None:
        return None

    def remember(self, snapshot: int | None, session_id: str, user_id: str, user: Any) -> None:
        return None

    def changed(self, messages: Sequence[str]) -> None:
        # No cache to keep true; this process's live connections still hear of it.
        if has_listeners():
            batch = list(messages)
            tell_listeners(batch)
            transaction.on_commit(lambda: tell_listeners(batch), robust=True)

    @contextmanager
    def one_fence(self) -> Iterator[None]:
        yield

    def health(self) -> str:
        return "disabled"

    def close(self) -> None:
        return None


def _private_copy(instance: Any) -> Any:
    """A copy per request, so that a view editing request.user edits no other request's
    (field values are copied; related objects are loaded again if asked for). Cheaper than
    copy.copy() of a model, which pickles its state."""
    cls = instance.__class__
    clone = cls.__new__(cls)
    clone.__dict__ = instance.__dict__.copy()
    clone._state = state = ModelState()
    state.db = instance._state.db
    state.adding = False
    return clone


class CachingRevocationStore(DatabaseRevocationStore):
    """The session cache, believed only while `bus` is trusted."""

    STATS_EVERY = 2000  # lookups between two DEBUG lines with the hit rate

    def __init__(self, bus: Bus) -> None:
        self.cache = SessionCache(api_settings.SESSION_CACHE_SIZE, api_settings.SESSION_CACHE_TTL.total_seconds())
        self.bus = bus
        bus.listen(self.cache.apply, self.cache.clear)
        self.misses = self.lookups = 0  # hits are the rest: a hit counts nothing of its own
        self._local = threading.local()  # .pending: messages committed inside one_fence(), or None

    # -- the request path ------------------------------------------------------------------
    def user_for(self, session_id: str, user_id: str, load: Loader[T], arg: T) -> Any:
        user = self.live_user(session_id, user_id)
        if user is not None:
            return user
        return self.load_user(session_id, user_id, load, arg)

    def load_user(self, session_id: str, user_id: str, load: Loader[T], arg: T) -> Any:
        """`load(arg)`, remembered if no invalidation arrived since before the read."""
        snapshot = self.snapshot()  # before the read: a change during it keeps it out of the cache
        user, cacheable = load(arg)
        if cacheable:
            self.remember(snapshot, session_id, user_id, user)
        return user

    def live_user(self, session_id: str, user_id: str) -> Any:
        self.lookups += 1
        if self.lookups >= self.STATS_EVERY:
            self._log_stats()
        if not self.bus.trusted():
            self.misses += 1
            return None
        user = self.cache.get(session_id, user_id)
        if user is None:
            self.misses += 1
            return None
        return _private_copy(user)

    def _log_stats(self) -> None:
        hits = self.lookups - self.misses
        logger.debug("session cache: %d hits of %d lookups, %d entries", hits, self.lookups, len(self.cache))
        metrics.count_session_cache(hits, self.misses)
        self.misses = self.lookups = 0

    def snapshot(self) -> int | None:
        return self.cache.epoch if self.bus.trusted() else None

    def remember(self, snapshot: int | None, session_id: str, user_id: str, user: Any) -> None:
        if snapshot is not None:
            self.cache.put(snapshot, session_id, user_id, _private_copy(user))

    # -- changes ---------------------------------------------------------------------------
    def changed(self, messages: Sequence[str]) -> None:
        # Now, so that this process never answers from the entry again; and after the commit,
        # because a concurrent read may have stored the row as it was before it.
        self.cache.apply(messages)
        transaction.on_commit(lambda: self._committed(messages), robust=True)

    def _committed(self, messages: Sequence[str]) -> None:
        self.cache.apply(messages)
        pending: dict[str, None] | None = getattr(self._local, "pending", None)  # an ordered set
        if pending is not None:
            if FLUSH not in pending:
                pending.update(dict.fromkeys(messages))
                if len(pending) > MAX_MESSAGES:
                    pending.clear()  # a bus would send FLUSH anyway; memory stays bounded
                    pending[FLUSH] = None
        else:
            self._deliver(messages)

    @contextmanager
    def one_fence(self) -> Iterator[None]:
        if getattr(self._local, "pending", None) is not None:
            yield  # an outer block delivers
            return
        self._local.pending = {}
        try:
            yield
        finally:
            pending, self._local.pending = self._local.pending, None
            if pending:
                self._deliver(list(pending))

    def _deliver(self, messages: Sequence[str]) -> None:
        if not self.bus.publish(messages):
            return  # the bus said why; other processes drop the entries within the TTL
        try:
            acknowledged = self.bus.fence()
        except Exception as exc:  # noqa: BLE001 — the change is committed; this was only the wait
            logger.warning(
                "%s: could not ask the other processes to confirm a revocation (%s: %s); "
                "the answer waited until none of them trusts its cache without it.",
                self.bus.label,
                exc.__class__.__name__,
                exc,
            )
            return
        if not acknowledged:
            logger.warning(
                "Not every server process acknowledged a revocation: those that did "
                "not have stopped trusting their cache."
            )

    def health(self) -> str:
        return self.bus.health()

    def close(self) -> None:
        self.bus.close()
