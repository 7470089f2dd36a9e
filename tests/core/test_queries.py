"""
The per-request cost of authentication in database queries (counted and
asserted; the number is stated in docs/deployment.md). With the default database revocation
store, an authenticated GET reads the session row joined with its user — one query —
and writes `last_used_at` at most once per LAST_USED_UPDATE_INTERVAL. A successful login
writes in one transaction after the one statement that reserves its attempt.
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
    # kind of second factor, the transaction (BEGIN, session, device, last_login, activity,
    # the counts' reset in two statements, COMMIT), and the address row for the answer.
    factor_checks = sum(1 for sql in outside if sql.startswith("SELECT 1 AS"))
    assert len(statements) == 12 + factor_checks, statements
    assert len([sql for sql in outside if '"auth_user"' in sql]) == 1  # the name is resolved once
