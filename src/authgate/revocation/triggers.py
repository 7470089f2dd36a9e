"""
Database-side invalidation, in one place: the SQL that the database runs itself, whatever
made the change (the ORM, `QuerySet.update()`, raw SQL, psql).

- The deactivation trigger (SQLite and PostgreSQL): when a user row's `is_active` is set to
  false, the database marks the user's open sessions ended (reason `user_inactive`) and
  deletes their static tokens, in the same statement, so re-activating the user later
  brings nothing back. This is the one exception to "a session ends only in
  `sessions.end_sessions()`": a trigger is the only code that runs for every way a row can
  be updated. It does what `end_sessions()` does to the database (the record). A `save()`
  ends the sessions through `receivers.end_credentials_of_deactivated_user` first, so the
  trigger then finds nothing open.
- The NOTIFY triggers (PostgreSQL only): inside the transaction that ends a session or
  changes a user, NOTIFY the revocation channel, so every process's `PostgresBus` hears of
  it at commit. Messages (`revocation.messages`): "s:<session id hex>" (ended, deleted,
  moved to another user), "u:<user pk>" (any change of the user row but `last_login`, or
  deletion), "*" (TRUNCATE: forget everything). Elsewhere the caches hear of changes from
  the Python paths, or else within SESSION_CACHE_TTL.

Installed by the migrations (the NOTIFY triggers) and after every `migrate` (Django's
`post_migrate`; SQLite drops a table's triggers whenever a migration rebuilds the table);
`manage.py authgate_install_triggers` installs all of them again by hand. On other
databases, and for user models without an `is_active` field, the deactivation trigger is
not installed and only the `save()` path applies (see SECURITY.md).
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper

from .messages import CHANNEL

DEACTIVATION = "authgate_user_deactivated"

_DEACTIVATION_SQLITE = [
    f"DROP TRIGGER IF EXISTS {DEACTIVATION}",
    """
CREATE TRIGGER {name} AFTER UPDATE OF {is_active} ON {users}
FOR EACH ROW WHEN NOT NEW.{is_active}
BEGIN
    UPDATE {sessions} SET ended_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), end_reason = 'user_inactive'
        WHERE {session_user} = NEW.{pk} AND ended_at IS NULL;
    DELETE FROM {tokens} WHERE {token_user} = NEW.{pk};
END
""",
]

_DEACTIVATION_POSTGRESQL = [
    """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    UPDATE {sessions} SET ended_at = now(), end_reason = 'user_inactive'
        WHERE {session_user} = NEW.{pk} AND ended_at IS NULL;
    DELETE FROM {tokens} WHERE {token_user} = NEW.{pk};
    RETURN NULL;
END
$$ LANGUAGE plpgsql
""",
    "DROP TRIGGER IF EXISTS {name} ON {users}",
    """
CREATE TRIGGER {name} AFTER UPDATE OF {is_active} ON {users}
FOR EACH ROW WHEN (NOT NEW.{is_active}) EXECUTE FUNCTION {name}()
""",
]

DEACTIVATION_STATEMENTS = {"sqlite": _DEACTIVATION_SQLITE, "postgresql": _DEACTIVATION_POSTGRESQL}

_DROP_NOTIFY_TRIGGERS = """
    DROP TRIGGER IF EXISTS authgate_session_changed ON authgate_session;
    DROP TRIGGER IF EXISTS authgate_session_deleted ON authgate_session;
    DROP TRIGGER IF EXISTS authgate_session_truncated ON authgate_session;
    DROP TRIGGER IF EXISTS authgate_user_changed ON {users};
    DROP TRIGGER IF EXISTS authgate_user_deleted ON {users};
    DROP TRIGGER IF EXISTS authgate_user_truncated ON {users};
"""

_NOTIFY_TRIGGERS = (
    """
    CREATE OR REPLACE FUNCTION authgate_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{channel}', 's:' || replace(OLD.id::text, '-', ''));
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION authgate_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{channel}', '*');
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION authgate_notify_user() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{channel}', 'u:' || (to_jsonb(OLD) ->> '{pk_literal}'));
        RETURN NULL;
    END $$;
"""
    + _DROP_NOTIFY_TRIGGERS
    + """
    -- Rotation (generation, issued_at, last_used_at) is no news for a cache: not sent.
    CREATE TRIGGER authgate_session_changed AFTER UPDATE ON authgate_session FOR EACH ROW
        WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
              OR OLD.id IS DISTINCT FROM NEW.id OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
        EXECUTE FUNCTION authgate_notify_session();
    CREATE TRIGGER authgate_session_deleted AFTER DELETE ON authgate_session FOR EACH ROW
        EXECUTE FUNCTION authgate_notify_session();
    CREATE TRIGGER authgate_session_truncated AFTER TRUNCATE ON authgate_session FOR EACH STATEMENT
        EXECUTE FUNCTION authgate_notify_all();

    CREATE TRIGGER authgate_user_changed AFTER UPDATE ON {users} FOR EACH ROW
        WHEN ((to_jsonb(OLD) - 'last_login') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login'))
        EXECUTE FUNCTION authgate_notify_user();
    CREATE TRIGGER authgate_user_deleted AFTER DELETE ON {users} FOR EACH ROW
        EXECUTE FUNCTION authgate_notify_user();
    CREATE TRIGGER authgate_user_truncated AFTER TRUNCATE ON {users} FOR EACH STATEMENT
        EXECUTE FUNCTION authgate_notify_all();
"""
)

_DROP_NOTIFY_FUNCTIONS = """
    DROP FUNCTION IF EXISTS authgate_notify_session();
    DROP FUNCTION IF EXISTS authgate_notify_all();
    DROP FUNCTION IF EXISTS authgate_notify_user();
"""


# -- NOTIFY (PostgreSQL) -------------------------------------------------------------------
def notify_sql(quoted_user_table: str, user_pk_column: str) -> str:
    """The SQL that (re)creates the NOTIFY triggers for this user table."""
    return _NOTIFY_TRIGGERS.format(
        channel=CHANNEL, users=quoted_user_table, pk_literal=user_pk_column.replace("'", "''")
    )


def drop_notify_sql(quoted_user_table: str) -> str:
    return _DROP_NOTIFY_TRIGGERS.format(users=quoted_user_table) + _DROP_NOTIFY_FUNCTIONS


# -- deactivation (SQLite, PostgreSQL) -----------------------------------------------------
def _column(field: Any) -> str:
    return str(field.column)


def _names(connection: BaseDatabaseWrapper) -> dict[str, str] | None:
    """The quoted table and column names, or None when the user model has no is_active."""
    from ..models import Session, StaticToken

    quote = connection.ops.quote_name
    user_model = get_user_model()
    if "is_active" not in {f.name for f in user_model._meta.concrete_fields}:
        return None
    return {
        "name": DEACTIVATION,
        "users": quote(user_model._meta.db_table),
        "pk": quote(_column(user_model._meta.pk)),
        "is_active": quote(_column(user_model._meta.get_field("is_active"))),
        "sessions": quote(Session._meta.db_table),
        "session_user": quote(Session._meta.get_field("user").column),
        "tokens": quote(StaticToken._meta.db_table),
        "token_user": quote(StaticToken._meta.get_field("user").column),
    }


def supported(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor in DEACTIVATION_STATEMENTS and _names(connection) is not None


def install(connection: BaseDatabaseWrapper, notify: bool = False) -> bool:
    """(Re)create the deactivation trigger on `connection`'s database — and with `notify`,
    on PostgreSQL, the NOTIFY triggers too (else the migration's stand); False when the
    deactivation trigger is not supported there."""
    from ..models import Session, StaticToken

    if not supported(connection):
        return False
    tables = set(connection.introspection.table_names())
    names = _names(connection)
    assert names is not None
    user_model = get_user_model()
    needed = (user_model._meta.db_table, Session._meta.db_table, StaticToken._meta.db_table)
    if not all(table in tables for table in needed):
        return False  # migrating only part of the way
    with connection.cursor() as cursor:
        for statement in DEACTIVATION_STATEMENTS[connection.vendor]:
            cursor.execute(statement.format(**names))
        if notify and connection.vendor == "postgresql":
            cursor.execute(notify_sql(names["users"], _column(user_model._meta.pk)))
    return True


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """`post_migrate`: the deactivation trigger again (SQLite dropped it if a migration
    rebuilt the user table). The NOTIFY triggers are the migration's: PostgreSQL keeps them."""
    from django.db import connections

    install(connections[using])
