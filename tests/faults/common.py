"""
Helpers of the fault tests: the Bearer header, and ending a session behind every bus's
back (the notify trigger off), which shows whether a process answers from its memory.
"""

from __future__ import annotations

import psycopg


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def end_behind_the_back(database_url: str, access: str, undo: bool = False) -> None:
    """End (or revive) a session with the notify trigger off: no bus hears of it."""
    import jwt

    sid = jwt.decode(access, options={"verify_signature": False})["sid"]
    value = "NULL" if undo else "CURRENT_TIMESTAMP"
    with psycopg.connect(database_url) as conn:
        conn.execute("ALTER TABLE authgate_session DISABLE TRIGGER authgate_session_changed")
        conn.execute(f"UPDATE authgate_session SET ended_at = {value} WHERE id = %s", (sid,))
        conn.execute("ALTER TABLE authgate_session ENABLE TRIGGER authgate_session_changed")
