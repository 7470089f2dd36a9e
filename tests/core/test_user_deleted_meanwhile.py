"""
A user deleted at the very moment their sessions end — by another request or process, on a
connection of its own — never costs the ending request a 500: it answers its contract's
JSON, the sessions are gone (ended, or deleted with the user), and the deletion succeeds.

The deletion is real: Django's `delete()` of the user on a second connection (a thread),
started by a query wrapper on the request's connection at one of three moments:

- "after the end read them": right after the end's read of the sessions, inside its
  transaction, before it ends them and writes their activity rows. On PostgreSQL the
  deletion commits there and then; the end must find nothing left to end or record.
- "after the end updated them": right after the end's UPDATE. The end holds those rows
  by then (PostgreSQL), so the deletion waits for its commit, and must then commit too.
  The wrapper lets the request go on once the deletion is seen waiting for a lock.
  (SQLite's writers queue on the whole file at the start of a transaction, so at either
  moment there the deletion waits; the wrapper cannot see that and waits a second.)
- "before the end": right after the request's authentication read its session (outside
  any transaction), the deletion runs to its commit; the end then finds the user gone;
- "before the user's row is written" (a password change's save): the save finds no row;
- "after the login read the user": a login's lookup of the account by its name has read
  the row, the deletion runs to its commit, then the login checks the password and opens
  its session for a user that is gone.

The answers decided (docs/concepts.md, "A user deleted while their sessions end"): an end that finds the session gone with its user
answers as if it had ended it — 200, like two logouts racing on one session; an admin's
logout of a user deleted before it looked the user up answers 404, as for any unknown id.
"""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from rest_framework.test import APIClient

from authgate.models import Activity, CredentialCutoff, Session

from ..conftest import PASSWORD, bearer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.portable]

READ, UPDATED, BEFORE = "after the end read them", "after the end updated them", "before the end"
SAVE = "before the user's row is written"
LOGIN = "after the login read the user"


class DeletionOfUser:
    """Deletes one user from a thread with its own database connection, once the request's
    connection reaches the chosen moment (see the module's docstring)."""

    def __init__(self, user_pk, when, change=None):
        self.user_pk = user_pk
        self.when = when
        self.change = change  # instead of the deletion: another write of the user's row
        self.thread = None
        self.error = None
        self.backend_pid = None
        self.waited = False
        self._connected = threading.Event()

    def __call__(self, execute, sql, params, many, context):
        if self.thread is None and self.when == SAVE and sql.startswith(f'UPDATE "{get_user_model()._meta.db_table}"'):
            self._start()
        result = execute(sql, params, many, context)
        if self.thread is None and self._is_the_moment(sql):
            self._start()
        return result

    def _is_the_moment(self, sql):
        if self.when == LOGIN:  # the account looked up by its login name, its password not checked yet
            user_table = f'"{get_user_model()._meta.db_table}"'
            return user_table in sql and sql.lstrip().upper().startswith("SELECT") and not connection.in_atomic_block
        if '"authgate_session"' not in sql or self.when == SAVE:
            return False
        if self.when == BEFORE:
            return not connection.in_atomic_block
        verb = "SELECT" if self.when == READ else "UPDATE"
        return connection.in_atomic_block and sql.lstrip().upper().startswith(verb)

    def _start(self):
        self.thread = threading.Thread(target=self._delete, daemon=True)
        self.thread.start()
        self._connected.wait(10)
        if self.when in (BEFORE, SAVE, LOGIN):
            self.thread.join(30)
            return
        deadline = time.monotonic() + (10 if connection.vendor == "postgresql" else 1)
        while self.thread.is_alive() and time.monotonic() < deadline and not self._waiting_for_a_lock():
            time.sleep(0.01)
        self.waited = self.thread.is_alive()  # for the end's commit: the end came first

    def _waiting_for_a_lock(self):
        if connection.vendor != "postgresql":
            return False
        with connection.cursor() as cursor:  # pg_locks is read live (pg_stat_activity is a snapshot)
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [self.backend_pid])
            return cursor.fetchone()[0]

    def _delete(self):
        try:
            own = connections["default"]
            own.ensure_connection()
            if own.vendor == "postgresql":
                self.backend_pid = own.connection.info.backend_pid
            self._connected.set()
            if self.change is not None:
                self.change(get_user_model().objects.filter(pk=self.user_pk))
            else:
                get_user_model().objects.get(pk=self.user_pk).delete()
        except Exception as error:  # noqa: BLE001 — reported by finish()
            self.error = error
        finally:
            self._connected.set()
            connections.close_all()

    def finish(self):
        assert self.thread is not None, "the moment never came"
        self.thread.join(60)
        assert not self.thread.is_alive(), "the deletion never finished"
        assert self.error is None, f"the deletion failed: {self.error!r}"


def log_in(client, user):
    response = client.post("/api/auth/login/", {"username": user.get_username(), "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_deletion(user, when, send, change=None):
    """Run `send()` (one request) while `user` is deleted (or `change`d) at `when`; (the
    response, whether the deletion waited for the request's transaction)."""
    deletion = DeletionOfUser(user.pk, when, change)
    with connection.execute_wrapper(deletion):
        response = send()
    deletion.finish()
    return response, deletion.waited


def logout_refresh(client, alice, staff):
    tokens = log_in(client, alice)
    return lambda: client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json")


def logout_bearer(client, alice, staff):
    tokens = log_in(client, alice)
    return lambda: client.post("/api/auth/logout/", **bearer(tokens["access"]))


def logout_all(client, alice, staff):
    tokens, _other = log_in(client, alice), log_in(client, alice)
    return lambda: client.post("/api/auth/logout/all/", **bearer(tokens["access"]))


def password_change(client, alice, staff):
    tokens, _other = log_in(client, alice), log_in(client, alice)
    body = {"old_password": PASSWORD, "new_password": "another-long-passphrase-7"}
    return lambda: client.post("/api/auth/password/change/", body, format="json", **bearer(tokens["access"]))


def admin_logout_of_user(client, alice, staff):
    log_in(client, alice)
    tokens = log_in(client, staff)
    return lambda: client.post(f"/api/auth/admin/users/{alice.pk}/logout/", **bearer(tokens["access"]))


def invalidate_all(client, alice, staff):
    log_in(client, alice)
    tokens = log_in(client, staff)
    return lambda: client.post("/api/auth/admin/invalidate-all-tokens/", {}, format="json", **bearer(tokens["access"]))


PATHS = {
    "logout by refresh token": (logout_refresh, {"detail": "Successfully logged out."}),
    "logout by access token": (logout_bearer, {"detail": "Successfully logged out."}),
    "logout everywhere": (logout_all, None),
    "password change": (password_change, None),
    "admin logout of the user": (admin_logout_of_user, None),
    "invalidate all": (invalidate_all, None),
}


@pytest.mark.parametrize("when", [READ, UPDATED])
@pytest.mark.parametrize("path", PATHS)
def test_a_user_deleted_while_their_sessions_end_costs_the_request_nothing(make_user, path, when):
    alice, staff = make_user("alice"), make_user("root", is_staff=True)
    client = APIClient()
    client.raise_request_exception = False
    prepare, body = PATHS[path]
    response, end_came_first = with_deletion(alice, when, prepare(client, alice, staff))

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    if body is not None:
        assert response.json() == body
    assert not get_user_model().objects.filter(pk=alice.pk).exists()
    assert not Session.objects.filter(user_id=alice.pk).exists()
    assert not CredentialCutoff.objects.filter(user_id=alice.pk).exists()
    # Whatever the end recorded names no user any more, but keeps the name. The end recorded
    # its sessions if it committed first (it held their rows or the cutoff's, or SQLite
    # queued the deletion), and nothing if the deletion did.
    ended = Activity.objects.filter(kind=Activity.SESSION_ENDED, username="alice")
    assert not ended.filter(user__isnull=False).exists()
    assert ended.exists() == end_came_first
    if when == UPDATED:
        assert end_came_first


@pytest.mark.parametrize("path", [p for p in PATHS if p not in ("password change", "admin logout of the user")])
def test_a_user_deleted_after_the_request_was_authenticated_ends_nothing_and_answers_json(make_user, path):
    alice, staff = make_user("alice"), make_user("root", is_staff=True)
    client = APIClient()
    client.raise_request_exception = False
    prepare, body = PATHS[path]
    send = prepare(client, alice, staff)
    response, _ = with_deletion(alice, BEFORE, send)

    assert response.status_code == 200, response.content
    if body is not None:
        assert response.json() == body
    if path == "logout everywhere":
        assert response.json()["sessions_ended"] == 0
    assert not get_user_model().objects.filter(pk=alice.pk).exists()
    assert not CredentialCutoff.objects.filter(user_id=alice.pk).exists()
    assert not Activity.objects.filter(kind=Activity.SESSION_ENDED, username="alice").exists()


def test_an_admin_logout_of_a_user_deleted_before_it_looked_answers_404(make_user):
    alice, staff = make_user("alice"), make_user("root", is_staff=True)
    client = APIClient()
    client.raise_request_exception = False
    response, _ = with_deletion(alice, BEFORE, admin_logout_of_user(client, alice, staff))
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


def test_a_password_change_whose_user_was_deleted_before_the_save_answers_revoked(make_user):
    alice = make_user("alice")
    client = APIClient()
    client.raise_request_exception = False
    response, _ = with_deletion(alice, SAVE, password_change(client, alice, None))
    assert response.status_code == 401, response.content
    assert (response.json()["code"], response.json()["reason"]) == ("token_not_valid", "revoked")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_login_whose_user_is_deleted_meanwhile_answers_json_and_opens_nothing(make_user):
    alice = make_user("alice")
    client = APIClient()
    client.raise_request_exception = False
    send = lambda: client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")  # noqa: E731
    response, _ = with_deletion(alice, LOGIN, send)
    assert response["Content-Type"] == "application/json"
    assert response.status_code == 401, response.content
    assert not Session.objects.exists()


def test_a_login_whose_user_is_deactivated_meanwhile_opens_no_session_to_revive(make_user):
    """Deactivated while its password was being checked: the login answers what an inactive
    account gets and leaves no session that a later reactivation would bring back."""
    alice = make_user("alice")
    client = APIClient()
    client.raise_request_exception = False
    send = lambda: client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")  # noqa: E731
    response, _ = with_deletion(alice, LOGIN, send, change=lambda rows: rows.update(is_active=False))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_credentials"
    assert not Session.objects.filter(user_id=alice.pk).exists()
