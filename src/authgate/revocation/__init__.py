"""
Revocation at memory speed: each server process remembers the sessions it has found live,
and believes that memory only while a push channel (a *bus*) tells it of every change.

The database is always the record (a `Session` row's `ended_at`, the user's row). The
cache maps session id -> (user id, user) and is believed only when all of these hold:

- the process is subscribed to its bus and its *own* heartbeat came back less than
  `TRUST` seconds ago (a silent disconnect expires trust by itself);
- the entry was read from the database while subscribed, and no invalidation arrived
  between the read and the insert (the cache's epoch did not move);
- the entry is younger than SESSION_CACHE_TTL (a message lost by something that bypasses
  the bus is forgotten within it), and the cache holds at most SESSION_CACHE_SIZE entries.

On any bus error the process empties its cache and answers from the database until it is
subscribed again and has heard its own echo. The process that ends a session drops it from
its own cache at once; the others are told after the commit, and the request waits (once,
however many changes it made) until they have applied it. Deployment: docs/deployment-scaling.md.

The parts, each with its own invariants:

| module | owns |
|---|---|
| `messages` | the message format ("s:<sid>", "u:<pk>", "*") and the PostgreSQL channel |
| `cache` | `SessionCache`: LRU + TTL + the epoch that keeps a raced read out |
| `buses.base` | the `Bus` protocol (trusted / publish / fence, reporting through callbacks) and `PushBus` (heartbeats, fences) |
| `buses.redis`, `buses.postgres`, `buses.sqlite` | the three transports |
| `listeners` | who else hears every applied batch (live connections) |
| `store` | the only code that joins a bus to a cache: `user_for()`, `changed()`, `one_fence()` |
| `process` | the store of this process (`get_store()`), fork- and settings-aware |
| `triggers` | database-side invalidation: the deactivation and NOTIFY triggers |
"""

from .buses import Bus, BusError, FileBus, PostgresBus, PushBus, RedisBus
from .cache import SessionCache
from .listeners import add_invalidation_listener, remove_invalidation_listener
from .messages import CHANNEL, FLUSH
from .process import get_store, reset_store
from .store import CachingRevocationStore, DatabaseRevocationStore

__all__ = [
    "CHANNEL",
    "FLUSH",
    "Bus",
    "BusError",
    "CachingRevocationStore",
    "DatabaseRevocationStore",
    "FileBus",
    "PostgresBus",
    "PushBus",
    "RedisBus",
    "SessionCache",
    "add_invalidation_listener",
    "get_store",
    "remove_invalidation_listener",
    "reset_store",
]
