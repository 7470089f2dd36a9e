"""
The compare-and-set of a refresh, as SQL built once per database (compiling the equivalent
`QuerySet.update()` on every refresh cost more than running it: bench/RESULTS.md).

- `advance()`: moves a session from generation N to N+1 if it is still at N and not ended;
  exactly one caller wins, however many present generation N at once.
- `advance_returning()`: the same move in the same one statement, with every other check a
  refresh makes — the user named by the token owns the session and is active — and the
  session's row back: a successful refresh is then one round trip instead of two (a read,
  then the write). It answers None whenever it did not move the session; the caller then
  reads the row and decides as it always did (retry window, reuse, revoked, inactive), so
  it never rotates a session that the two-statement path would have refused. Only where
  the database returns rows from an UPDATE (PostgreSQL, SQLite 3.35+) and the user model
  keeps `is_active` in a column; elsewhere `available()` is False.

Nothing here decides what a failed move means: that is `sessions.rotate()`.
"""

import sqlite3
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.signals import setting_changed
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .models import Session

_ADVANCE: dict[str, str] = {}  # vendor -> the compare-and-set UPDATE
_RETURNING: dict[str, "_Returning | None"] = {}  # alias -> the UPDATE ... RETURNING, or None


def _columns(connection: BaseDatabaseWrapper) -> dict[str, str]:
    quote = connection.ops.quote_name
    return {f.name: quote(str(f.column)) for f in Session._meta.concrete_fields}


def _set_clause(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    """(table, the SET and WHERE of the move, with parameters issued_at, last_used_at, id,
    generation)."""
    c = _columns(connection)
    gen = c["generation"]
    return connection.ops.quote_name(Session._meta.db_table), (
        f"SET {gen} = {gen} + 1, {c['issued_at']} = %s, {c['last_used_at']} = %s "
        f"WHERE {c['id']} = %s AND {gen} = %s AND {c['ended_at']} IS NULL"
    )


def _params(connection: BaseDatabaseWrapper, session_id: Any, presented: int, issued_at: int) -> list[Any]:
    last_used = Session._meta.get_field("last_used_at").get_db_prep_value(timezone.now(), connection)
    return [issued_at, last_used, Session._meta.pk.get_db_prep_value(session_id, connection), presented]


def advance(session_id: Any, presented: int, issued_at: int) -> bool:
    """True if this caller moved session `session_id` from `presented` to the next generation."""
    connection = connections[router.db_for_write(Session)]
    sql = _ADVANCE.get(connection.vendor)
    if sql is None:
        table, clause = _set_clause(connection)
        sql = _ADVANCE[connection.vendor] = f"UPDATE {table} {clause}"
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(connection, session_id, presented, issued_at))
        rowcount: int = cursor.rowcount
        return rowcount == 1


class _Returning:
    """The UPDATE ... RETURNING of one database alias, and how its row becomes a `Session`."""

    def __init__(self, alias: str, connection: BaseDatabaseWrapper) -> None:
        users = get_user_model()
        quote = connection.ops.quote_name
        table, clause = _set_clause(connection)
        fields = list(Session._meta.concrete_fields)
        user_pk = quote(str(users._meta.pk.column))
        self.sql = (
            f"UPDATE {table} {clause} AND {_columns(connection)['user']} = %s AND EXISTS (SELECT 1 FROM "
            f"{quote(users._meta.db_table)} WHERE {user_pk} = %s AND {quote(str(users._meta.get_field('is_active').column))} = %s) "
            f"RETURNING {', '.join(quote(str(f.column)) for f in fields)}"
        )
        self.alias = alias
        self.attnames = [f.attname for f in fields]
        compiler = Session.objects.using(alias).all().query.get_compiler(using=alias)
        self.compiler = compiler
        self.converters = compiler.get_converters([f.get_col(Session._meta.db_table) for f in fields])

    def session(self, row: tuple[Any, ...]) -> Session:
        if self.converters:
            row = next(iter(self.compiler.apply_converters([row], self.converters)))
        return Session.from_db(self.alias, self.attnames, row)


def _returning_for(alias: str) -> "_Returning | None":
    if alias not in _RETURNING:
        connection = connections[alias]
        supported = connection.vendor == "postgresql" or (
            connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)
        )
        try:
            field = get_user_model()._meta.get_field("is_active")
        except FieldDoesNotExist:  # `is_active` is Python (AbstractBaseUser's True, a property)
            supported = False
        else:
            supported = supported and field.concrete
        _RETURNING[alias] = _Returning(alias, connection) if supported else None
    return _RETURNING[alias]


def available() -> bool:
    """Whether `advance_returning()` can answer on this database with this user model."""
    return _returning_for(router.db_for_write(Session)) is not None


def advance_returning(session_id: Any, user_id: str, presented: int, issued_at: int) -> Session | None:
    """The session, moved to the next generation, if it was at `presented`, not ended, and
    owned by the active user whose pk is spelled `user_id` (as tokens spell it); else None
    (nothing written). Call only when `available()`."""
    alias = router.db_for_write(Session)
    returning = _returning_for(alias)
    assert returning is not None
    users = get_user_model()
    try:
        user_pk = users._meta.pk.to_python(user_id)
    except (ValidationError, ValueError, TypeError):
        return None
    if str(user_pk) != user_id:  # the two-statement path compares the spelling
        return None
    connection = connections[alias]
    user_pk = users._meta.pk.get_db_prep_value(user_pk, connection)
    params = [*_params(connection, session_id, presented, issued_at), user_pk, user_pk, True]
    with connection.cursor() as cursor:
        cursor.execute(returning.sql, params)
        rows = cursor.fetchall()  # all of them: SQLite finishes the statement when they are read
    return returning.session(rows[0]) if rows else None


def forget(**kwargs: Any) -> None:
    """Drop the statements built so far (a test that swaps the user model or the databases)."""
    if kwargs.get("setting", "AUTH_USER_MODEL") in ("AUTH_USER_MODEL", "DATABASES"):
        _ADVANCE.clear()
        _RETURNING.clear()


setting_changed.connect(forget)
