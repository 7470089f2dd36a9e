"""
PostgreSQL only: triggers that NOTIFY the revocation channel inside the transaction that
ends a session or changes a user, so every server process's session cache hears of it at
commit — whatever made the change (the ORM, QuerySet.update(), raw SQL, psql). Other
databases: nothing. The SQL lives in `authgate.revocation.triggers` (with the deactivation
trigger), which `manage.py authgate_install_triggers` runs again.
"""

from django.conf import settings
from django.db import migrations

from authgate.revocation.triggers import drop_notify_sql, notify_sql


def _user_table(apps, schema_editor):
    model = apps.get_model(settings.AUTH_USER_MODEL)
    return schema_editor.quote_name(model._meta.db_table), model._meta.pk.column


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(notify_sql(*_user_table(apps, schema_editor)))


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(drop_notify_sql(_user_table(apps, schema_editor)[0]))


class Migration(migrations.Migration):
    dependencies = [
        ("authgate", "0005_simplejwt_migration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
