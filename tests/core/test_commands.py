"""
The management commands (invalidate_all_tokens, logout_user, the cleanup
command) and bounded storage: a session's stored rows do not grow with refreshes, and
ended/expired sessions are purged.
"""

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from authgate import sessions, static_tokens
from authgate.models import Session, StaticToken

from ..conftest import bearer

pytestmark = pytest.mark.portable

PROTECTED = "/api/protected/"


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def status_of(client, access):
    return client.get(PROTECTED, **bearer(access)).status_code


def assert_revoked(client, access):
    response = client.get(PROTECTED, **bearer(access))
    assert response.status_code == 401
    assert response.json()["reason"] == "revoked"


@pytest.fixture
def people(make_user):
    """Two users with live sessions opened directly by the lifecycle (no password hashing)."""
    alice, bob = make_user("alice"), make_user("bob")
    return {
        "alice": [sessions.open_session(alice, device=d)[1] for d in ("laptop", "phone")],
        "bob": [sessions.open_session(bob)[1]],
        "alice_user": alice,
    }


# -- invalidate_all_tokens ---------------------------------------------------------------------
def test_invalidate_all_tokens_refuses_without_confirm_with_a_non_zero_exit(api_client, people):
    # The real command line: it refuses before touching any database.
    refused = subprocess.run(
        [sys.executable, "manage.py", "invalidate_all_tokens"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "--confirm" in refused.stderr
    with pytest.raises(CommandError, match="--confirm"):
        call_command("invalidate_all_tokens")
    # Nothing was ended.
    assert Session.objects.open().count() == 3
    assert status_of(api_client, people["bob"][0].access) == 200


def test_invalidate_all_tokens_confirmed(api_client, people):
    static_tokens.create_token(people["alice_user"], name="ci")
    out = run("invalidate_all_tokens", "--confirm")
    assert "3 session(s) ended" in out
    for pair in people["alice"] + people["bob"]:
        assert_revoked(api_client, pair.access)
    assert set(Session.objects.values_list("end_reason", flat=True)) == {"invalidate_all"}
    assert StaticToken.objects.count() == 1  # static tokens only with --include-static-tokens


def test_invalidate_all_tokens_including_static_tokens(api_client, people):
    _, key = static_tokens.create_token(people["alice_user"], name="ci")
    out = run("invalidate_all_tokens", "--confirm", "--include-static-tokens")
    assert "1 static token(s) deleted" in out
    assert StaticToken.objects.count() == 0
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


# -- logout_user -------------------------------------------------------------------------------
def test_logout_user_ends_that_users_sessions_only(api_client, people):
    out = run("logout_user", "alice")
    assert "2 session(s) of alice ended" in out
    for pair in people["alice"]:
        assert_revoked(api_client, pair.access)
    assert status_of(api_client, people["bob"][0].access) == 200


def test_logout_user_unknown_username(people):
    with pytest.raises(CommandError, match="No user named"):
        run("logout_user", "nobody")
    assert Session.objects.open().count() == 3


# -- cleanup -----------------------------------------------------------------------------------
def test_cleanup_purges_ended_expired_and_idle_sessions_and_expired_static_tokens(api_client, make_user):
    alice = make_user("alice")
    now = timezone.now()
    opened = {
        name: sessions.open_session(alice, device=name)
        for name in ("live", "ended-long-ago", "ended-just-now", "past-cap", "idle")
    }
    long_ago = now - timedelta(hours=2)
    Session.objects.filter(device="ended-long-ago").update(ended_at=long_ago, end_reason="logout")
    sessions.end_sessions(Session.objects.filter(device="ended-just-now"), sessions.LOGOUT)
    Session.objects.filter(device="past-cap").update(expires_at=now - timedelta(minutes=5))
    idle_since = int((now - timedelta(days=8)).timestamp())  # REFRESH_TOKEN_LIFETIME is 7 days
    Session.objects.filter(device="idle").update(issued_at=idle_since)
    static_tokens.create_token(alice, name="expired", expires_in=1)
    StaticToken.objects.filter(name="expired").update(expires_at=now - timedelta(seconds=1))
    static_tokens.create_token(alice, name="forever")
    static_tokens.create_token(alice, name="later", expires_in=3600)

    out = run("authgate_cleanup")
    assert "Purged 3 session(s), 1 expired static token(s)" in out
    # A session ended moments ago is kept until its access tokens would have expired anyway.
    assert set(Session.objects.values_list("device", flat=True)) == {"live", "ended-just-now"}
    assert set(StaticToken.objects.values_list("name", flat=True)) == {"forever", "later"}
    # Purging a row never brings its tokens back to life.
    assert_revoked(api_client, opened["ended-long-ago"][1].access)
    assert status_of(api_client, opened["live"][1].access) == 200
    # Safe to run again (cron): nothing left to purge.
    assert "Purged 0 session(s), 0 expired static token(s)" in run("authgate_cleanup")


def test_purge_works_in_bounded_batches(make_user):
    """However many sessions are dead, purge() reads and deletes `batch` of them at a time
    (each SELECT has a LIMIT, each batch its own DELETE) and walks the table once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = make_user("alice")
    for i in range(7):
        sessions.open_session(alice, device=f"dead-{i}")
    for i in range(3):
        sessions.open_session(alice, device=f"live-{i}")
    Session.objects.filter(device__startswith="dead-").update(expires_at=timezone.now() - timedelta(hours=1))

    with CaptureQueriesContext(connection) as queries:
        assert sessions.purge(batch=3) == 7

    assert sorted(Session.objects.values_list("device", flat=True)) == ["live-0", "live-1", "live-2"]
    table = Session._meta.db_table
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]]
    deletes = [q["sql"] for q in queries if q["sql"].startswith(f'DELETE FROM "{table}"')]
    assert len([sql for sql in reads if "LIMIT 3" in sql]) == 3  # 3 + 3 + 1: the short batch ends the walk
    assert all("LIMIT 3" in sql or " IN (" in sql for sql in reads)  # never the whole table at once
    assert len(deletes) == 3
    assert sessions.purge(batch=3) == 0


# -- bounded storage ---------------------------------------------------------------------------
def _rows_in_every_table():
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_rows_per_session_do_not_grow_with_refreshes(api_client, user, tokens_for):
    pair = tokens_for(user)
    after_login = _rows_in_every_table()
    assert after_login["authgate.Session"] == 1
    for _ in range(30):
        response = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
        assert response.status_code == 200
        pair = response.json()
        assert status_of(api_client, pair["access"]) == 200
    assert _rows_in_every_table() == after_login
    assert Session.objects.get().generation == 31
