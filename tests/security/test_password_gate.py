"""
One gate for passwords: every way a password is checked — the API login, the Django
admin's login form, `tokens/` with a username and password, `authenticate()` through
authgate's backend, and the current password that me/ PATCH and DELETE and the password
change ask for — counts in one failed-login budget per (account, address) and per
address, refuses before any hash once it is spent, and sends `user_login_failed` once per
refused attempt.
"""

from contextlib import contextmanager

import pytest
from django.contrib.auth import authenticate, user_login_failed
from django.test import Client, RequestFactory, override_settings

from authgate.account import gate
from authgate.models import Activity

from ..conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"
IP = "203.0.113.9"
LIMITS = {"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"}}


@contextmanager
def caught(signal):
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def login(client, username, password):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=IP)


def admin_login(client, username, password):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=IP, follow=False
    )


def checked_guesses():
    """Passwords actually judged and found wrong (a throttled attempt writes no such row)."""
    return Activity.objects.filter(kind=Activity.LOGIN_FAILED).count()


@override_settings(AUTHGATE=LIMITS)
def test_the_admin_login_form_stops_checking_passwords_after_the_limit(make_user):
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    answers = [admin_login(client, "root", f"{WRONG}{i}") for i in range(30)]
    assert all(a.status_code == 200 for a in answers)
    assert checked_guesses() == 5
    assert all(b"Please enter the correct username" in a.content for a in answers[:5])
    assert all(b"Too many failed login attempts" in a.content for a in answers[5:])
    # The right password is not even judged now: no session for the staff account.
    right = admin_login(client, "root", PASSWORD)
    assert right.status_code == 200 and b"Too many failed login attempts" in right.content
    assert "_auth_user_id" not in client.session


@override_settings(AUTHGATE=LIMITS)
def test_a_success_in_the_admin_resets_the_count_as_an_api_login_does(make_user):
    make_user("root", is_staff=True)
    client = Client()
    for i in range(4):
        admin_login(client, "root", f"{WRONG}{i}")
    assert admin_login(client, "root", PASSWORD).status_code == 302
    for i in range(4):
        assert b"Please enter the correct" in admin_login(Client(), "root", f"{WRONG}{i}").content


@override_settings(AUTHGATE=LIMITS)
def test_every_way_in_spends_one_budget(api_client, make_user, tokens_for):
    user = make_user("alice")
    access = tokens_for(user)["access"]
    attempts = [
        lambda: login(api_client, "alice", WRONG),
        lambda: admin_login(Client(), "ALICE", WRONG),
        lambda: api_client.post(
            "/api/auth/tokens/", {"username": "alice@example.com", "password": WRONG}, format="json", REMOTE_ADDR=IP
        ),
        lambda: api_client.patch(
            "/api/auth/me/",
            {"email": "new@example.com", "password": WRONG},
            format="json",
            REMOTE_ADDR=IP,
            **bearer(access),
        ),
        lambda: api_client.generic(
            "DELETE",
            "/api/auth/me/",
            '{"password": "%s"}' % WRONG,
            "application/json",
            REMOTE_ADDR=IP,
            **bearer(access),
        ),
    ]
    statuses = [attempt().status_code for attempt in attempts]
    assert statuses == [401, 200, 401, 400, 400]
    assert checked_guesses() == 5
    # Spent: each way now refuses without judging, the right password included.
    assert login(api_client, "alice", PASSWORD).status_code == 429
    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "Brand-new-passphrase-42"},
        format="json",
        REMOTE_ADDR=IP,
        **bearer(access),
    )
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert b"Too many failed login attempts" in admin_login(Client(), "alice", PASSWORD).content
    token = api_client.post(
        "/api/auth/tokens/", {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR=IP
    )
    assert token.status_code == 429 and int(token["Retry-After"]) > 0
    assert checked_guesses() == 5
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.email == "alice@example.com"


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "3/15m", "IP": "50/15m"}})
def test_authenticate_through_the_backend_is_throttled_and_reports_every_refusal(make_user):
    make_user("alice")
    request = RequestFactory().post("/somewhere/", REMOTE_ADDR=IP)
    with caught(user_login_failed) as failures:
        results = [authenticate(request, username="alice", password=WRONG) for _ in range(5)]
        right = authenticate(request, username="alice", password=PASSWORD)
    assert results == [None] * 5 and right is None
    assert len(failures) == 6  # every refusal, the throttled ones too, once each
    assert all(call["credentials"]["password"] != PASSWORD for call in failures)
    assert checked_guesses() == 3
    assert gate.throttled_on(request).retry_after > 0
    assert Activity.objects.filter(kind=Activity.LOGIN_THROTTLED).count() == 1


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_the_api_reports_a_throttled_login_to_user_login_failed_once(api_client, make_user):
    make_user("alice")
    with caught(user_login_failed) as failures:
        statuses = [login(api_client, "alice", WRONG).status_code for _ in range(4)]
    assert statuses == [401, 401, 429, 429]
    assert len(failures) == 4
    assert checked_guesses() == 2


def test_the_gate_returns_the_user_or_raises_typed_errors(make_user, rf):
    user = make_user("alice")
    request = rf.post("/", REMOTE_ADDR=IP)
    assert gate.check_password(request, "Alice", PASSWORD) == user
    assert gate.check_password(request, "alice", PASSWORD, user=user) == user
    with pytest.raises(gate.WrongPassword):
        gate.check_password(request, "alice", WRONG)
    other = make_user("bob")
    with pytest.raises(gate.WrongPassword):  # re-authentication: the password of that account
        gate.check_password(request, "alice", PASSWORD, user=other)
    make_user("carol")
    with override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "1/15m", "IP": "50/15m"}}):
        with pytest.raises(gate.WrongPassword):
            gate.check_password(request, "carol", WRONG)
        with pytest.raises(gate.PasswordThrottled) as refused:
            gate.check_password(request, "carol", PASSWORD)
    assert refused.value.retry_after > 0


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_authenticate_without_a_request_counts_against_the_account(make_user):
    make_user("alice")
    assert [authenticate(username="alice", password=WRONG) for _ in range(3)] == [None] * 3
    assert authenticate(username="alice", password=PASSWORD) is None  # spent: not judged
    assert checked_guesses() == 2
