"""
Invalidation listeners: code that must hear every batch of messages this process applies
(from its bus, or from its own changes) — live connections (`authgate.live`) end with their
session. A listener must return at once (it may run on the bus's thread) and never raise;
one that raises is logged and the others still hear the batch.
"""

import logging
from collections.abc import Callable

logger = logging.getLogger("authgate.revocation")

Listener = Callable[[list[str]], None]

_listeners: list[Listener] = []


def add_invalidation_listener(callback: Listener) -> None:
    if callback not in _listeners:
        _listeners.append(callback)


def remove_invalidation_listener(callback: Listener) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


def has_listeners() -> bool:
    return bool(_listeners)


def tell_listeners(messages: list[str]) -> None:
    for callback in list(_listeners):
        try:
            callback(messages)
        except Exception:  # noqa: BLE001 — a listener must not break the bus
            logger.exception("Invalidation listener %r failed", callback)
