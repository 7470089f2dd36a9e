"""
The per-request cost of authentication in database queries (counted and
asserted; the number is stated in docs/deployment.md). With the default database revocation
store, an authenticated GET reads the session row joined with its user — one query —
and writes `last_used_at` at most once per LAST_USED_UPDATE_INTERVAL. A successful login
writes in one transaction after the one statement that reserves its attempt. A refresh
is one statement (the compare-and-set that returns the row) where the database returns
rows from an UPDATE; a refresh that statement does not move reads the row after it.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authgate.models import Session

from ..conftest import bearer, login

# AUTHGATE without REDIS_URL: the database store, whatever the environment says.
DATABASE_STORE = {"REVOCATION_STORE": "authgate.revocation.DatabaseRevocationStore"}


@pytest.fixture
def access(user):
    from authgate import sessions

    with override_settings(AUTHGATE=DATABASE_STORE):
        yield sessions.open_session(user)[1].access


@override_settings(AUTHGATE=DATABASE_STORE)
def test_authenticated_get_costs_one_query(api_client, access, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        response = api_client.get("/api/protected/", **bearer(access))
    assert response.status_code == 200
    sql = captured.captured_queries[0]["sql"]
    assert "authgate_session" in sql and "auth_user" in sql  # the session row joined with its user


@override_settings(AUTHGATE=DATABASE_STORE)
def test_last_used_at_is_written_at_most_once_per_interval(api_client, access, django_assert_num_queries):
    Session.objects.update(last_used_at=timezone.now() - timedelta(minutes=5))
    with django_assert_num_queries(2):  # read + the overdue last_used_at write
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    with django_assert_num_queries(1):  # written just now: no write
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    assert timezone.now() - Session.objects.get().last_used_at < timedelta(minutes=1)


@override_settings(AUTHGATE=DATABASE_STORE)
def test_unauthenticated_public_get_costs_no_query(api_client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api_client.get("/api/public/").status_code == 200


# -- a successful login --------------------------------------------------------------------
WRITES = ("INSERT", "UPDATE", "DELETE")


def _statements(captured):
    return [q["sql"].strip() for q in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_a_successful_login_commits_its_writes_once(api_client, user):
    """The attempt's reservation in the failed-login counts is one statement before the
    password is judged (both counts at once); everything a successful login writes after
    it — the session, its activity row, last_login, the counts' reset — is one transaction.
    The device is one this client was seen on (its cookie came back)."""
    assert login(api_client).status_code == 200  # the device is known from now on
    with CaptureQueriesContext(connection) as captured:
        response = login(api_client)
    assert response.status_code == 200
    statements = _statements(captured)
    begins = [i for i, sql in enumerate(statements) if sql.startswith("BEGIN")]
    commits = [i for i, sql in enumerate(statements) if sql == "COMMIT"]
    assert len(begins) == len(commits) == 1, statements
    inside = statements[begins[0] + 1 : commits[0]]
    outside = statements[: begins[0]] + statements[commits[0] + 1 :]
    tables = ["authgate_session", "authgate_activity", "auth_user", "authgate_attemptcounter"]
    for table in tables:  # each written inside the transaction
        assert any(sql.startswith(WRITES) and f'"{table}"' in sql for sql in inside), (table, inside)
    writes_outside = [sql for sql in outside if sql.startswith(WRITES)]
    assert len(writes_outside) == 1 and '"authgate_attemptcounter"' in writes_outside[0]  # the reservation
    # The whole login: the account (once), the spent counts, the reservation, one EXISTS per
    # kind of second factor, the transaction (BEGIN, the account's row held, session, device,
    # last_login, activity, the counts' reset in two statements, COMMIT), and the address
    # row for the answer.
    factor_checks = sum(1 for sql in outside if sql.startswith("SELECT 1 AS"))
    assert len(statements) == 13 + factor_checks, statements
    held = inside[0]  # first: a deletion of the account waits for this commit
    assert held.startswith("SELECT") and '"auth_user"' in held, inside
    if connection.vendor == "postgresql":
        assert held.endswith("FOR NO KEY UPDATE"), held
    assert len([sql for sql in outside if '"auth_user"' in sql]) == 1  # the name is resolved once


# -- a refresh -----------------------------------------------------------------------------
REFRESH = "/api/auth/token/refresh/"


def refresh(client, token):
    return client.post(REFRESH, {"refresh": token}, format="json")


def test_a_refresh_is_one_statement_that_moves_the_session_and_returns_its_row(
    api_client, user, django_assert_num_queries
):
    from authgate import sessions

    _session, pair = sessions.open_session(user)
    with django_assert_num_queries(1) as captured:
        response = refresh(api_client, pair.refresh)
    assert response.status_code == 200, response.content
    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("UPDATE") and "RETURNING" in sql and "is_active" in sql
    session = Session.objects.get()
    assert session.generation == 2 and session.last_used_at > session.created_at
    # The pair minted from the returned row is the pair the row gives when read again.
    assert response.json() == sessions.get_codec().pair_for(session).as_dict()


def test_a_retry_inside_the_window_reads_the_row_after_the_move_found_nothing(
    api_client, user, django_assert_num_queries
):
    from authgate import sessions

    _session, pair = sessions.open_session(user)
    first = refresh(api_client, pair.refresh)
    with django_assert_num_queries(2):  # the move (no row), then the read
        again = refresh(api_client, pair.refresh)
    assert again.status_code == 200 and again.content == first.content
    assert Session.objects.get().generation == 2


def test_a_deactivated_users_open_session_is_not_moved(api_client, user):
    """The user's activity is part of the one statement: even a session left open (the
    deactivation trigger ends them; here it is reopened by hand) does not rotate."""
    from authgate import sessions

    _session, pair = sessions.open_session(user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    Session.objects.update(ended_at=None, end_reason="")
    response = refresh(api_client, pair.refresh)
    assert response.status_code == 401
    assert response.json()["reason"] == "user_inactive"
    assert Session.objects.get().generation == 1


def test_a_token_naming_another_user_moves_nothing(db, user, make_user):
    from authgate import rotation, sessions

    session, _pair = sessions.open_session(user)
    other = make_user("mallory")
    for spelled in (str(other.pk), f"0{user.pk}", "not-a-pk", ""):
        assert rotation.advance_returning(session.pk, spelled, 1, 1) is None
    assert Session.objects.get().generation == 1
    assert rotation.advance_returning(session.pk, str(user.pk), 1, 1) is not None


@pytest.mark.postgres
def test_rotations_are_hot_updates_that_touch_no_index(api_client, user):
    """A rotation writes no indexed column (generation, issued_at, last_used_at), so on a
    page with room PostgreSQL keeps the new row version there and adds no index entry."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's heap-only tuples")
    from authgate import sessions

    table = Session._meta.db_table

    def updates():  # this backend's counts not yet reported, this transaction's included
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s", [table])
            return cursor.fetchone()

    with connection.cursor() as cursor:  # a page with room: earlier tests' rows are gone
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(table)} CASCADE")
    token = sessions.open_session(user)[1].refresh
    before = updates()
    for _ in range(3):
        response = refresh(api_client, token)
        assert response.status_code == 200
        token = response.json()["refresh"]
    after = updates()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)


def test_where_no_update_returns_rows_a_refresh_reads_then_moves(
    api_client, user, monkeypatch, django_assert_num_queries
):
    """Other databases, or a user model whose `is_active` is Python: the read, then the
    compare-and-set; the same answers."""
    from authgate import rotation, sessions

    monkeypatch.setitem(rotation._RETURNING, connection.alias, None)
    assert not rotation.available()
    _session, pair = sessions.open_session(user)
    with django_assert_num_queries(2) as captured:
        first = refresh(api_client, pair.refresh)
    assert first.status_code == 200
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["SELECT", "UPDATE"]
    assert "RETURNING" not in captured.captured_queries[1]["sql"]
    assert refresh(api_client, pair.refresh).content == first.content  # the retry window
    assert Session.objects.get().generation == 2
