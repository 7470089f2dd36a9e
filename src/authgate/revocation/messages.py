"""
The invalidation messages every bus carries, and the PostgreSQL channel name (shared by the
`PostgresBus` and the database triggers that NOTIFY it).

A message names what to forget: "s:<session id hex>" (a session ended, was deleted or moved),
"u:<user pk>" (a user changed or was deleted: every session of theirs) or "*" (everything).
One bus payload may hold several messages separated by spaces. Anything else on a channel
("hb:", "fence:", "ack:") is the buses' own protocol and never reaches a cache.
"""

from collections.abc import Iterable

CHANNEL = "authgate_revocation"  # PostgreSQL channel; Redis: "<REDIS_KEY_PREFIX>:revocation"
FLUSH = "*"  # message: forget every entry
MAX_MESSAGES = 500  # more than this in one publication: send FLUSH instead


def session(session_hex: str) -> str:
    return f"s:{session_hex}"


def user(pk: object) -> str:
    return f"u:{pk}"


def sessions(session_hexes: Iterable[str]) -> list[str]:
    return [f"s:{sid}" for sid in session_hexes]
