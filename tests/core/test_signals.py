"""
Signals: Django's own auth signals (`user_logged_in` keeps `last_login`, `user_logged_out`,
`user_login_failed` with the password cleansed) and authgate's `session_opened`,
`session_ended` (after commit, with the reason) and `refresh_reuse_detected`.
"""

import contextlib

import pytest
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from authgate import signals
from authgate.models import Session

from ..conftest import PASSWORD, bearer, login

LOGOUT = "/api/auth/logout/"
REFRESH = "/api/auth/token/refresh/"


@contextlib.contextmanager
def caught(signal):
    """The keyword arguments of every send of `signal` while the block runs."""
    calls = []

    def receiver(sender, **kwargs):
        calls.append({"sender": sender, **kwargs})

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def test_login_sends_user_logged_in_and_updates_last_login(api_client, user):
    assert user.last_login is None
    with caught(user_logged_in) as calls:
        assert login(api_client).status_code == 200
    assert len(calls) == 1
    assert calls[0]["user"] == user
    assert isinstance(calls[0]["request"], HttpRequest)
    user.refresh_from_db()
    assert user.last_login is not None


def test_failed_login_sends_user_login_failed_without_the_password(api_client, user):
    with caught(user_login_failed) as calls, caught(user_logged_in) as logins:
        assert login(api_client, password="wrong-password-1").status_code == 401
    assert logins == []
    assert len(calls) == 1
    credentials = calls[0]["credentials"]
    assert credentials["username"] == "alice"
    assert "wrong-password-1" not in repr(credentials)
    assert isinstance(calls[0]["request"], HttpRequest)
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.parametrize("form", ["bearer", "refresh"])
def test_logout_sends_user_logged_out(api_client, user, tokens_for, form):
    pair = tokens_for(user)
    with caught(user_logged_out) as calls:
        if form == "bearer":
            response = api_client.post(LOGOUT, **bearer(pair["access"]))
        else:
            response = api_client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert [call["user"] for call in calls] == [user]
    assert isinstance(calls[0]["request"], HttpRequest)


def test_logout_all_sends_user_logged_out(api_client, user, tokens_for):
    pair = tokens_for(user)
    with caught(user_logged_out) as calls:
        assert api_client.post("/api/auth/logout/all/", **bearer(pair["access"])).status_code == 200
    assert [call["user"] for call in calls] == [user]


def test_a_refused_logout_sends_nothing(api_client, user):
    with caught(user_logged_out) as calls:
        assert api_client.post(LOGOUT, {"refresh": "not-a-token"}, format="json").status_code == 400
    assert calls == []


def test_session_opened_carries_session_user_and_request(api_client, user):
    with caught(signals.session_opened) as calls:
        body = login(api_client, device="laptop").json()
    assert len(calls) == 1
    assert calls[0]["sender"] is Session
    assert str(calls[0]["session"].pk) == body["session_id"]
    assert calls[0]["user"] == user
    assert isinstance(calls[0]["request"], HttpRequest)


def test_session_ended_is_sent_after_commit_with_the_reason(
    api_client, make_user, tokens_for, django_capture_on_commit_callbacks
):
    alice, bob = make_user("alice"), make_user("bob")
    laptop, phone, bobs = tokens_for(alice), tokens_for(alice), tokens_for(bob)
    with caught(signals.session_ended) as calls:
        with django_capture_on_commit_callbacks() as callbacks:
            api_client.post("/api/auth/logout/all/", **bearer(laptop["access"]))
        assert calls == []  # not before the commit
        for callback in callbacks:
            callback()
    assert sorted(str(call["session_id"]) for call in calls) == sorted([laptop["session_id"], phone["session_id"]])
    assert {call["user_id"] for call in calls} == {alice.pk}
    assert {call["reason"] for call in calls} == {"logout_all"}
    assert all(call["sender"] is Session for call in calls)
    assert bobs  # bob's session is untouched and not reported


def test_session_ended_is_not_sent_when_the_transaction_rolls_back(user, transactional_db):
    from django.db import transaction

    from authgate import sessions

    session, _pair = sessions.open_session(user)
    with caught(signals.session_ended) as calls:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            sessions.end_session_by_id(session.pk.hex)
            raise RuntimeError("roll back")
    assert calls == []
    session.refresh_from_db()
    assert session.ended_at is None
    with caught(signals.session_ended) as calls:
        sessions.end_session_by_id(session.pk.hex)  # autocommit: sent at once
    assert [(call["session_id"], call["reason"]) for call in calls] == [(session.pk, "logout")]


def test_reuse_of_a_spent_refresh_token_sends_refresh_reuse_detected(
    api_client, user, tokens_for, django_capture_on_commit_callbacks
):
    first = tokens_for(user)
    second = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json").json()
    # Two rotations on, so that the first token is past the retry window's "previous one".
    assert api_client.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200
    with caught(signals.refresh_reuse_detected) as detected, caught(signals.session_ended) as ended:
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 401
    assert len(detected) == 1
    assert str(detected[0]["session"].pk) == first["session_id"]
    assert detected[0]["user_id"] == user.pk
    assert [(str(call["session_id"]), call["reason"]) for call in ended] == [(first["session_id"], "reuse_detected")]


def test_static_token_created_with_a_password_is_a_login(api_client, user):
    with caught(user_logged_in) as calls:
        response = api_client.post(
            "/api/auth/tokens/", {"username": "alice", "password": PASSWORD, "name": "ci"}, format="json"
        )
    assert response.status_code == 201
    assert [call["user"] for call in calls] == [user]
