"""
The per-request cost of authentication in database queries (counted and
asserted; the number is stated in docs/deployment.md). With the default database revocation
store, an authenticated GET reads the session row joined with its user — one query —
and writes `last_used_at` at most once per LAST_USED_UPDATE_INTERVAL.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from authgate.models import Session

from ..conftest import bearer

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
