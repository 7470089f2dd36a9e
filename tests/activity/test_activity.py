"""
The security activity trail: one row per security event, written where it happens (login,
failed login, throttled attempt, refresh reuse, each ended session with its reason, static
tokens, password change), never per authenticated request; GET /api/auth/activity/ lists
the user's own events only; the cleanup command enforces ACTIVITY_RETENTION.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authgate import activity, sessions
from authgate.models import Activity, Session

from ..conftest import PASSWORD, bearer, login

# Real transactions here: what commits, and when, is part of what is tested.
pytestmark = pytest.mark.django_db(transaction=True)

ACTIVITY = "/api/auth/activity/"
UA = {"HTTP_USER_AGENT": "Firefox/140 test"}


def kinds(user=None):
    rows = Activity.objects.all() if user is None else Activity.objects.filter(user=user)
    return [row.kind for row in rows.order_by("id")]


def test_login_writes_one_row_naming_the_session_ip_and_user_agent(api_client, user):
    api_client.credentials(**UA)
    body = login(api_client, device="laptop").json()
    row = Activity.objects.get()
    assert row.kind == Activity.LOGIN_SUCCEEDED
    assert row.user == user and row.username == "alice"
    assert str(row.session_id) == body["session_id"]
    assert row.ip == "127.0.0.1"
    assert row.user_agent == "Firefox/140 test"


def test_failed_login_names_the_account_and_never_the_password(api_client, user):
    assert login(api_client, password="Wrong-password-77").status_code == 401
    assert login(api_client, username="nobody-here", password="Wrong-password-78").status_code == 401
    known, unknown = Activity.objects.order_by("id")
    assert (known.kind, known.user, known.username) == (Activity.LOGIN_FAILED, user, "alice")
    assert (unknown.kind, unknown.user, unknown.username) == (Activity.LOGIN_FAILED, None, "nobody-here")
    dumped = repr(list(Activity.objects.values()))
    assert "Wrong-password" not in dumped and PASSWORD not in dumped


def test_an_email_login_failure_belongs_to_the_account_with_that_email(api_client, user):
    assert login(api_client, username="alice@example.com", password="nope-nope-1").status_code == 401
    assert Activity.objects.get().user == user


def test_throttled_attempts_are_recorded_once_a_minute_per_name_and_ip(api_client, user, settings):
    settings.AUTHGATE = {"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}}
    for _ in range(2):
        assert login(api_client, password="wrong-wrong-1").status_code == 401
    for _ in range(3):
        assert login(api_client).status_code == 429
    assert kinds() == [Activity.LOGIN_FAILED] * 2 + [Activity.LOGIN_THROTTLED]
    assert Activity.objects.filter(kind=Activity.LOGIN_THROTTLED).get().user == user


@pytest.mark.parametrize("how", ["refresh", "bearer"])
def test_logout_records_the_ended_session_with_its_reason(api_client, user, tokens_for, how):
    api_client.credentials(**UA)
    pair = tokens_for(user)
    api_client.credentials()
    if how == "refresh":
        api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    else:
        api_client.post("/api/auth/logout/", **bearer(pair["access"]))
    ended = Activity.objects.get(kind=Activity.SESSION_ENDED)
    assert (ended.reason, ended.user, str(ended.session_id)) == ("logout", user, pair["session_id"])
    assert ended.user_agent == "Firefox/140 test"  # the device that was signed out


def test_reuse_detection_records_the_presenter_and_ends_the_session(api_client, user, tokens_for, settings):
    settings.AUTHGATE = {"REFRESH_RETRY_WINDOW": 0}
    pair = tokens_for(user)
    assert api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json").status_code == 200
    api_client.credentials(HTTP_USER_AGENT="curl/8 thief")
    replay = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert replay.status_code == 401
    reuse = Activity.objects.get(kind=Activity.REFRESH_REUSE_DETECTED)
    assert reuse.user == user and reuse.user_agent == "curl/8 thief" and str(reuse.session_id) == pair["session_id"]
    assert Activity.objects.get(kind=Activity.SESSION_ENDED).reason == "reuse_detected"


def test_protected_get_and_refresh_write_nothing(api_client, user, tokens_for):
    pair = tokens_for(user)
    before = Activity.objects.count()
    for _ in range(3):
        assert api_client.get("/api/protected/", **bearer(pair["access"])).status_code == 200
        response = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
        assert response.status_code == 200
        pair = response.json()
    assert Activity.objects.count() == before


def test_protected_get_issues_no_activity_query(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    api_client.get("/api/protected/", **bearer(access))  # warm: last_used_at written at most once
    with CaptureQueriesContext(connection) as queries:
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    assert not [q for q in queries.captured_queries if "authgate_activity" in q["sql"]]


def test_an_ended_session_is_recorded_in_the_transaction_that_ends_it(user):
    session, _pair = sessions.open_session(user, ip="192.0.2.7", user_agent="phone")
    with transaction.atomic():
        assert sessions.end_session_by_id(session.pk) == 1
        row = Activity.objects.get(kind=Activity.SESSION_ENDED)  # before the commit: no commit of its own
    assert (row.reason, row.user, row.username, row.session_id) == ("logout", user, "alice", session.pk)
    assert (row.ip, row.user_agent) == ("192.0.2.7", "phone")


def test_a_logout_reads_its_session_twice_and_the_account_not_again(api_client, user, tokens_for):
    pair = tokens_for(user)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # The refresh token's session (joined with its user), then the sessions it ends (joined
    # with their users, for the activity row): nothing read again to write that row.
    assert len([sql for sql in selects if "authgate_session" in sql]) == 2
    assert not [sql for sql in selects if "authgate_session" not in sql and user._meta.db_table in sql]
    assert Activity.objects.filter(kind=Activity.SESSION_ENDED).count() == 1


def test_password_change_records_the_change_and_the_other_sessions_ended(api_client, user, tokens_for):
    here, other = tokens_for(user), tokens_for(user)
    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "An0ther-horse-battery"},
        format="json",
        **bearer(here["access"]),
    )
    assert response.status_code == 200
    assert str(Activity.objects.get(kind=Activity.PASSWORD_CHANGED).session_id) == here["session_id"]
    ended = Activity.objects.get(kind=Activity.SESSION_ENDED)
    assert (ended.reason, str(ended.session_id)) == ("password_changed", other["session_id"])


def test_static_tokens_created_and_revoked_without_the_key(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    created = api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(access)).json()
    api_client.delete(f"/api/auth/tokens/{created['id']}/", **bearer(access))
    rows = Activity.objects.filter(kind__startswith="static_token").order_by("id")
    assert [(r.kind, r.details) for r in rows] == [
        (Activity.STATIC_TOKEN_CREATED, {"token_id": created["id"], "name": "ci"}),
        (Activity.STATIC_TOKEN_REVOKED, {"token_id": created["id"], "name": "ci"}),
    ]
    assert created["token"] not in repr(list(Activity.objects.values()))


def test_invalidate_all_writes_its_rows_in_batches(make_user):
    users = [make_user(f"u{i}") for i in range(3)]
    for i in range(1200):
        sessions.open_session(users[i % 3], ip="10.0.0.1", user_agent="bulk")
    with CaptureQueriesContext(connection) as queries:
        assert sessions.end_all_sessions() == 1200
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "authgate_activity"')]
    assert 1 <= len(inserts) <= 1200 // 50  # many rows a statement (SQLite caps it by parameter count)
    assert Activity.objects.filter(kind=Activity.SESSION_ENDED, reason="invalidate_all").count() == 1200
    assert Activity.objects.filter(user=users[1], ip="10.0.0.1").count() == 400


def test_deactivation_and_admin_ends_are_recorded(make_user):
    ada = make_user("ada")
    sessions.open_session(ada)
    sessions.open_session(ada)
    sessions.end_user_sessions(ada, sessions.ADMIN, keep_session_id=None)
    sessions.open_session(ada)
    ada.is_active = False
    ada.save()
    reasons = sorted(Activity.objects.filter(kind=Activity.SESSION_ENDED).values_list("reason", flat=True))
    assert reasons == ["admin", "admin", "user_inactive"]


def test_the_trail_outlives_a_deleted_account(api_client, user):
    login(api_client)
    user.delete()
    row = Activity.objects.get()
    assert (row.user, row.username) == (None, "alice")


def test_trail_off_writes_nothing(api_client, user, settings):
    settings.AUTHGATE = {"ACTIVITY_TRAIL": False}
    login(api_client)
    login(api_client, password="bad-bad-bad-1")
    assert Activity.objects.count() == 0


# -- GET /api/auth/activity/ ----------------------------------------------------------------
def test_the_user_sees_their_own_events_newest_first(api_client, make_user, tokens_for):
    alice, bob = make_user("alice"), make_user("bob")
    login(api_client, "bob", "bobs-wrong-password")
    pair = tokens_for(bob)
    login(api_client, "alice", "alices-wrong-password")
    api_client.post("/api/auth/logout/", {"refresh": tokens_for(alice)["refresh"]}, format="json")
    body = api_client.get(ACTIVITY, **bearer(pair["access"])).json()
    assert body["count"] == 2
    assert [e["kind"] for e in body["results"]] == [Activity.LOGIN_SUCCEEDED, Activity.LOGIN_FAILED]
    assert {e["username"] for e in body["results"]} == {"bob"}
    assert body["results"][0]["kind_display"] == "Login succeeded"
    assert body["results"][0]["session_id"] == pair["session_id"]
    assert "user" not in body["results"][0]


def test_activity_is_paginated(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    now = timezone.now()
    Activity.objects.bulk_create(
        [Activity(kind=Activity.LOGIN_FAILED, user=user, created_at=now - timedelta(minutes=i)) for i in range(1, 31)]
    )
    first = api_client.get(ACTIVITY, {"page_size": 10}, **bearer(access)).json()
    assert first["count"] == 31 and len(first["results"]) == 10 and first["next"]
    assert first["results"][0]["kind"] == Activity.LOGIN_SUCCEEDED
    last = api_client.get(ACTIVITY, {"page": 4, "page_size": 10}, **bearer(access)).json()
    assert len(last["results"]) == 1 and last["next"] is None
    missing = api_client.get(ACTIVITY, {"page": 99}, **bearer(access))
    assert missing.status_code == 404 and missing.json()["code"]


def test_activity_needs_authentication(api_client, db):
    response = api_client.get(ACTIVITY)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# -- retention --------------------------------------------------------------------------------
def test_cleanup_deletes_events_past_the_retention(user, settings):
    now = timezone.now()
    Activity.objects.bulk_create(
        [
            Activity(kind=Activity.LOGIN_FAILED, user=user, created_at=now - timedelta(days=91)),
            Activity(kind=Activity.LOGIN_FAILED, user=user, created_at=now - timedelta(days=89)),
        ]
    )
    call_command("authgate_cleanup", stdout=open("/dev/null", "w"))
    assert Activity.objects.count() == 1
    settings.AUTHGATE = {"ACTIVITY_RETENTION": 3600}
    assert activity.purge() == 1
    settings.AUTHGATE = {"ACTIVITY_RETENTION": None}
    Activity.objects.create(kind=Activity.LOGIN_FAILED, created_at=now - timedelta(days=3650))
    assert activity.purge() == 0


def test_session_rows_are_not_touched_by_the_trail(api_client, user, tokens_for):
    tokens_for(user)
    assert Session.objects.count() == 1


def test_sessions_deleted_in_the_admin_are_recorded(admin_client, make_user):
    ada = make_user("ada")
    session, _pair = sessions.open_session(ada, ip="192.0.2.4", user_agent="phone")
    response = admin_client.post(
        "/admin/authgate/session/", {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Session.objects.filter(pk=session.pk).exists()
    row = Activity.objects.get(kind=Activity.SESSION_ENDED)
    assert (row.reason, row.user, row.session_id) == ("admin", ada, session.pk)


def test_a_session_whose_account_is_gone_is_recorded_without_it(make_user):
    ada = make_user("ada")
    session, _pair = sessions.open_session(ada)
    assert activity.record_sessions_ended([(session.pk, ada.pk + 1000)], "admin") == 1
    row = Activity.objects.get()
    assert (row.user, row.username, row.session_id) == (None, "", session.pk)
