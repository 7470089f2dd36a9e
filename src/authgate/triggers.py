"""
The deactivation trigger: when a user row's `is_active` is set to false — by
`QuerySet.update()`, a bulk admin action or raw SQL, which no Django signal sees — the
database itself marks the user's open sessions ended (reason `user_inactive`) and deletes
their static tokens, in the same statement, so re-activating the user later brings
nothing back.

This is the one exception to "a session ends only in `sessions.end_sessions()`": a
trigger is the only code that runs for every way a row can be updated. It does what
end_sessions() does to the database (the record); the per-process session caches hear of
it through PostgreSQL's NOTIFY triggers, or else within SESSION_CACHE_TTL (see
`authgate.revocation`). A `save()` ends the sessions through end_sessions() first
(`authgate.signals`), so the trigger then finds nothing open.

Installed after every `migrate` (Django's `post_migrate` signal), because SQLite drops a
table's triggers whenever a migration rebuilds the table. SQLite and PostgreSQL only; on
other databases, and for user models without an `is_active` field, nothing is installed
and only the `save()` path applies (see SECURITY.md).
"""

from django.contrib.auth import get_user_model

from .models import Session, StaticToken

NAME = "authgate_user_deactivated"

SQLITE = [
    f"DROP TRIGGER IF EXISTS {NAME}",
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

POSTGRESQL = [
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

STATEMENTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def _names(connection):
    """The quoted table and column names, or None when the user model has no is_active."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    if "is_active" not in {f.name for f in user_model._meta.concrete_fields}:
        return None
    return {
        "name": NAME,
        "users": quote(user_model._meta.db_table),
        "pk": quote(user_model._meta.pk.column),
        "is_active": quote(user_model._meta.get_field("is_active").column),
        "sessions": quote(Session._meta.db_table),
        "session_user": quote(Session._meta.get_field("user").column),
        "tokens": quote(StaticToken._meta.db_table),
        "token_user": quote(StaticToken._meta.get_field("user").column),
    }


def supported(connection):
    return connection.vendor in STATEMENTS and _names(connection) is not None


def install(connection):
    """(Re)create the trigger on `connection`'s database; False when not supported."""
    if not supported(connection):
        return False
    tables = set(connection.introspection.table_names())
    names = _names(connection)
    needed = (get_user_model()._meta.db_table, Session._meta.db_table, StaticToken._meta.db_table)
    if not all(table in tables for table in needed):
        return False  # migrating only part of the way
    with connection.cursor() as cursor:
        for statement in STATEMENTS[connection.vendor]:
            cursor.execute(statement.format(**names))
    return True


def install_after_migrate(sender, using="default", **kwargs):
    from django.db import connections

    install(connections[using])
