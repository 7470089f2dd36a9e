"""
`manage.py authgate_install_triggers` puts the database-side deactivation back: with the
trigger gone, a `QuerySet.update(is_active=False)` leaves the user's sessions open; once the
command has run, the same update ends them in the database itself.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from authgate import sessions
from authgate.models import Session
from authgate.revocation import triggers

pytestmark = pytest.mark.django_db


def drop_deactivation_trigger():
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    on_table = f" ON {users}" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {triggers.DEACTIVATION}{on_table}")


def deactivate_behind_django(user):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)


def test_the_command_reinstalls_the_deactivation_trigger(user):
    if not triggers.supported(connection):
        pytest.skip("no trigger on this database")
    drop_deactivation_trigger()
    session = sessions.open_session(user)[0]
    deactivate_behind_django(user)
    assert Session.objects.get(pk=session.pk).ended_at is None  # nothing in the database did it

    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    out = StringIO()
    call_command("authgate_install_triggers", stdout=out)
    assert "Installed" in out.getvalue()
    deactivate_behind_django(user)
    session.refresh_from_db()
    assert (session.ended_at is not None, session.end_reason) == (True, "user_inactive")
