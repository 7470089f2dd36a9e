"""
PostgreSQL only: triggers that NOTIFY the revocation channel inside the transaction that
ends a session or changes a user, so every server process's session cache hears of it at
commit — whatever made the change (the ORM, QuerySet.update(), raw SQL, psql). Other
databases: nothing (see authgate.revocation).

Messages: "s:<session id hex>" (ended, deleted, moved to another user), "u:<user pk>" (any
change of the user row but `last_login`, or deletion), "*" (TRUNCATE: forget everything).
"""
from django.conf import settings
from django.db import migrations

CHANNEL = "authgate_revocation"


def _user_table(apps):
    model = apps.get_model(settings.AUTH_USER_MODEL)
    return model._meta.db_table, model._meta.pk.column


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    user_table, user_pk = _user_table(apps)
    pk_literal = user_pk.replace("'", "''")
    schema_editor.execute(f"""
        CREATE OR REPLACE FUNCTION authgate_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 's:' || replace(OLD.id::text, '-', ''));
            RETURN NULL;
        END $$;
        CREATE OR REPLACE FUNCTION authgate_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '*');
            RETURN NULL;
        END $$;
        CREATE OR REPLACE FUNCTION authgate_notify_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'u:' || (to_jsonb(OLD) ->> '{pk_literal}'));
            RETURN NULL;
        END $$;

        DROP TRIGGER IF EXISTS authgate_session_changed ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_session_deleted ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_session_truncated ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_user_changed ON {quote(user_table)};
        DROP TRIGGER IF EXISTS authgate_user_deleted ON {quote(user_table)};
        DROP TRIGGER IF EXISTS authgate_user_truncated ON {quote(user_table)};

        -- Rotation (generation, issued_at, last_used_at) is no news for a cache: not sent.
        CREATE TRIGGER authgate_session_changed AFTER UPDATE ON authgate_session FOR EACH ROW
            WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
                  OR OLD.id IS DISTINCT FROM NEW.id OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
            EXECUTE FUNCTION authgate_notify_session();
        CREATE TRIGGER authgate_session_deleted AFTER DELETE ON authgate_session FOR EACH ROW
            EXECUTE FUNCTION authgate_notify_session();
        CREATE TRIGGER authgate_session_truncated AFTER TRUNCATE ON authgate_session FOR EACH STATEMENT
            EXECUTE FUNCTION authgate_notify_all();

        CREATE TRIGGER authgate_user_changed AFTER UPDATE ON {quote(user_table)} FOR EACH ROW
            WHEN ((to_jsonb(OLD) - 'last_login') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login'))
            EXECUTE FUNCTION authgate_notify_user();
        CREATE TRIGGER authgate_user_deleted AFTER DELETE ON {quote(user_table)} FOR EACH ROW
            EXECUTE FUNCTION authgate_notify_user();
        CREATE TRIGGER authgate_user_truncated AFTER TRUNCATE ON {quote(user_table)} FOR EACH STATEMENT
            EXECUTE FUNCTION authgate_notify_all();
    """)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    user_table, _ = _user_table(apps)
    schema_editor.execute(f"""
        DROP TRIGGER IF EXISTS authgate_session_changed ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_session_deleted ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_session_truncated ON authgate_session;
        DROP TRIGGER IF EXISTS authgate_user_changed ON {quote(user_table)};
        DROP TRIGGER IF EXISTS authgate_user_deleted ON {quote(user_table)};
        DROP TRIGGER IF EXISTS authgate_user_truncated ON {quote(user_table)};
        DROP FUNCTION IF EXISTS authgate_notify_session();
        DROP FUNCTION IF EXISTS authgate_notify_all();
        DROP FUNCTION IF EXISTS authgate_notify_user();
    """)


class Migration(migrations.Migration):
    dependencies = [
        ("authgate", "0005_simplejwt_migration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
