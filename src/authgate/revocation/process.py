"""
The revocation store of this process: chosen from the settings on first use, one per
process, forgotten (never closed) by a forked child — its sockets are the parent's — and
rebuilt when a test overrides the settings it depends on.

The choice: REVOCATION_STORE if set; no cache when SESSION_CACHE_SIZE <= 0; else the bus
that the deployment allows: Redis (REDIS_URL), PostgreSQL LISTEN (the session table's
database is PostgreSQL), a shared file (SQLite on disk); otherwise no cache.
"""

import os
from typing import Any

from django.core.signals import setting_changed
from django.db import connections, router

from ..conf import RELOADING_SETTINGS, api_settings
from .buses.postgres import PostgresBus
from .buses.redis import RedisBus
from .buses.sqlite import FileBus
from .store import CachingRevocationStore, DatabaseRevocationStore

_store: DatabaseRevocationStore | None = None
_inherited: list[DatabaseRevocationStore] = []  # stores of a parent process: never used, never closed


def _new_store() -> DatabaseRevocationStore:
    store_class = api_settings.REVOCATION_STORE
    if store_class is not None:
        store: DatabaseRevocationStore = store_class()
        return store
    if api_settings.SESSION_CACHE_SIZE <= 0:
        return DatabaseRevocationStore()
    if api_settings.REDIS_URL or api_settings.REDIS_SENTINELS:
        bus = RedisBus(
            api_settings.REDIS_URL,
            api_settings.REDIS_KEY_PREFIX,
            sentinels=api_settings.REDIS_SENTINELS,
            master=api_settings.REDIS_SENTINEL_MASTER,
        )
        return CachingRevocationStore(bus)
    from ..models import Session

    alias = router.db_for_write(Session)
    connection = connections[alias]
    if connection.vendor == "postgresql":
        return CachingRevocationStore(PostgresBus(alias, api_settings.LISTEN_DATABASE_URL))
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict.get("NAME") or "")
        if name and name != ":memory:" and not name.startswith("file:"):
            return CachingRevocationStore(FileBus(f"{name}-revocations"))
    return DatabaseRevocationStore()


def get_store() -> DatabaseRevocationStore:
    """The configured store (one per process)."""
    global _store
    if _store is None:
        _store = _new_store()
    return _store


def reset_store() -> None:
    global _store
    store, _store = _store, None
    if store is not None:
        store.close()


def _forget_after_fork() -> None:
    # A forked worker trusts nothing it inherited and must not close the parent's sockets.
    global _store
    if _store is not None:
        _inherited.append(_store)
        _store = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS or setting in {"DATABASES", "AUTH_USER_MODEL"}:
        reset_store()


setting_changed.connect(_on_setting_changed, dispatch_uid="authgate.revocation.reset_store")
