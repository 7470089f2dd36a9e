"""
The per-process session cache: session id (hex) -> (user id, user, stored at), LRU-bounded,
entries expire after `ttl` seconds.

Its race protocol: `epoch` moves on every invalidation, and `put(epoch, ...)` stores nothing
if the epoch moved since the caller read it — so a database read that started before an
invalidation can never store what it read. Callers take the epoch *before* their read; the
store (`store.CachingRevocationStore.user_for`) is the only caller that does.

Its lock serializes the writers (`put`, `apply`); a reader takes none: its lookup and its
move to the most-recent end are each one OrderedDict call (atomic under the GIL), and a
writer that walks the entries walks a copy.

The cache knows nothing of buses: they report through callbacks that the store wires to
`apply()` and `clear()`. Every batch it applies is also told to the invalidation listeners
(`listeners`: live connections end with their session).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from .listeners import tell_listeners
from .messages import FLUSH


class SessionCache:
    """session id (hex) -> (user id, user, stored at): LRU-bounded, entries expire after `ttl`."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self.epoch = 0  # moves on every invalidation: a read that started before one is not stored
        self._entries: OrderedDict[str, tuple[str, Any, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str, user_id: str) -> Any:
        entry = self._entries.get(session_id)
        if entry is None or entry[0] != user_id or time.monotonic() - entry[2] > self.ttl:
            return None
        try:  # most recently used; one OrderedDict call, atomic under the GIL: no lock
            self._entries.move_to_end(session_id)
        except KeyError:  # dropped meanwhile by another thread: this answer was read before
            pass
        return entry[1]

    def put(self, epoch: int, session_id: str, user_id: str, user: Any) -> None:
        with self._lock:
            if epoch != self.epoch:
                return
            self._entries[session_id] = (user_id, user, time.monotonic())
            self._entries.move_to_end(session_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def apply(self, messages: Iterable[str]) -> None:
        """Drop what `messages` ("s:<sid>", "u:<user pk>", "*") name."""
        messages = list(messages)
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
                # Over a copy (one C call): a reader's move_to_end() may run between two steps.
                for session_id, entry in list(self._entries.items()):
                    if entry[0] in users:
                        self._entries.pop(session_id, None)
        tell_listeners(messages)

    def clear(self) -> None:
        self.apply([FLUSH])
