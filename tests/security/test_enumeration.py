"""
Account enumeration and password guessing.

- Login, static-token creation and password change do not tell an unknown username from
  a wrong password or an inactive account: same status, same body, similar time.
- Registration must say "taken" (that is what a uniqueness check is); what it must not do
  is say anything *more* — see SECURITY.md, "Account enumeration".
- Failed-login throttling: per (username, IP) and per IP, 429 with Retry-After, reset by a
  success, and an attacker on one IP cannot lock the real user out on another.

Passwords are hashed with Argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1
lane: ~0.05 s) rather than Django's default (100 MiB, 8 lanes: up to 0.6 s on a busy
2-core machine): the same algorithm and code paths, at a lower cost. Throttle limits are lowered where only the mechanism matters.
"""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import override_settings

from ..conftest import PASSWORD, bearer, login

ATTACKER_IP = "203.0.113.66"
USER_IP = "198.51.100.7"
WRONG = "not-the-password-1"


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1


@pytest.fixture(autouse=True)
def _argon2_at_owasp_minimum(settings):
    settings.PASSWORD_HASHERS = ["tests.security.test_enumeration.OwaspArgon2PasswordHasher"]


def login_from(client, ip, username="alice", password=PASSWORD):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def assert_invalid_credentials(response):
    assert response.status_code == 401, response.content
    assert response.json() == {
        "detail": "No active account found with the given credentials.",
        "code": "invalid_credentials",
    }


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


# -- login: no difference between unknown, wrong and inactive ----------------------------
def test_login_unknown_user_wrong_password_and_inactive_user_answer_identically(api_client, make_user):
    make_user("alice")
    make_user("sleepy", is_active=False)
    answers = [
        login(api_client, "nobody-here", PASSWORD),  # unknown username
        login(api_client, "nobody@example.com", PASSWORD),  # unknown email
        login(api_client, "alice", WRONG),  # wrong password
        login(api_client, "alice@example.com", WRONG),  # wrong password, by email
        login(api_client, "sleepy", PASSWORD),  # inactive, with the right password
    ]
    for response in answers:
        assert_invalid_credentials(response)
    assert len({(r.status_code, r.content, r.get("WWW-Authenticate")) for r in answers}) == 1


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "1000/15m", "IP": "1000/15m"}})
def test_unknown_wrong_and_inactive_logins_each_run_the_password_hasher_exactly_once(
    api_client, make_user, monkeypatch
):
    """What makes the three answers take the same time, checked without a clock: each runs
    one Argon2 computation with the same parameters (an unknown name hashes the password it
    was given, as a real check would verify it). A timing comparison would be a speed test
    in disguise, and flaky on a loaded machine; the count is exact."""
    make_user("alice")
    make_user("sleepy", is_active=False)
    runs: list[str] = []
    encode, verify = OwaspArgon2PasswordHasher.encode, OwaspArgon2PasswordHasher.verify

    def counted_encode(self, password, salt):
        runs.append("encode")
        return encode(self, password, salt)

    def counted_verify(self, password, encoded):
        runs.append("verify")
        return verify(self, password, encoded)

    monkeypatch.setattr(OwaspArgon2PasswordHasher, "encode", counted_encode)
    monkeypatch.setattr(OwaspArgon2PasswordHasher, "verify", counted_verify)
    for username, password in (("ghost", WRONG), ("ghost@example.com", WRONG), ("alice", WRONG), ("sleepy", PASSWORD)):
        runs.clear()
        assert login(api_client, username, password).status_code == 401
        assert len(runs) == 1, (username, runs)


def test_static_token_creation_by_password_does_not_reveal_the_username(api_client, make_user):
    make_user("alice")
    make_user("sleepy", is_active=False)
    answers = [
        api_client.post("/api/auth/tokens/", {"username": name, "password": password}, format="json")
        for name, password in (("nobody-here", PASSWORD), ("alice", WRONG), ("sleepy", PASSWORD))
    ]
    for response in answers:
        assert_invalid_credentials(response)
    assert len({r.content for r in answers}) == 1


# -- register: "taken", and nothing more -----------------------------------------------
def register(client, username, email, password="An0ther-good-passphrase"):
    return client.post(
        "/api/auth/register/", {"username": username, "email": email, "password": password}, format="json"
    )


def test_register_says_taken_and_nothing_more(api_client, make_user):
    """A uniqueness check has to answer "taken" (SECURITY.md explains the decision). It
    must answer it the same way for an active, an inactive and a staff account, and must
    not act as a password oracle for the existing account."""
    make_user("alice")
    make_user("sleepy", is_active=False)
    make_user("boss", is_staff=True)
    bodies = set()
    for taken in ("alice", "sleepy", "boss"):
        for password in (PASSWORD, "An0ther-good-passphrase"):  # the holder's real one, and not
            response = register(api_client, taken, "fresh@example.com", password)
            assert response.status_code == 400
            assert set(response.json()) == {"username"}
            bodies.add(response.content)
    assert len(bodies) == 1
    email_answers = {
        register(api_client, "newcomer", email).content
        for email in ("alice@example.com", "ALICE@example.COM", "sleepy@example.com")
    }
    assert len(email_answers) == 1
    assert set(register(api_client, "newcomer", "alice@example.com").json()) == {"email"}


# -- password change: the old password is not a free oracle ------------------------------
@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "3/15m", "IP": "50/15m"}})
def test_password_change_wrong_old_password_is_throttled_like_a_login(api_client, user, tokens_for):
    """A stolen access token must not turn password/change into an unthrottled way of
    guessing the password: wrong old passwords count as failed logins."""
    access = tokens_for(user)["access"]
    for i in range(3):
        response = api_client.post(
            "/api/auth/password/change/",
            {"old_password": f"{WRONG}{i}", "new_password": "Brand-new-passphrase-42"},
            format="json",
            **bearer(access),
        )
        assert response.status_code == 400
        assert "old_password" in response.json()
    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "Brand-new-passphrase-42"},
        format="json",
        **bearer(access),
    )
    assert_throttled(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # nothing changed while throttled
    assert_throttled(login(api_client))  # and the same (username, IP) count is shared


# -- throttling --------------------------------------------------------------------------
@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"}})
def test_per_username_ip_throttle_blocks_with_retry_after_even_the_right_password(api_client, make_user):
    make_user("alice")
    for _ in range(5):
        assert_invalid_credentials(login_from(api_client, ATTACKER_IP, password=WRONG))
    assert_throttled(login_from(api_client, ATTACKER_IP, password=WRONG))
    assert_throttled(login_from(api_client, ATTACKER_IP))  # no password check while blocked
    # The same throttle, whatever the case of the username.
    assert_throttled(login_from(api_client, ATTACKER_IP, username="ALICE"))
    # Unknown usernames are throttled the same way: the 429 reveals nothing either.
    for _ in range(5):
        assert_invalid_credentials(login_from(api_client, ATTACKER_IP, username="ghost", password=WRONG))
    assert_throttled(login_from(api_client, ATTACKER_IP, username="ghost", password=WRONG))


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"}})
def test_a_success_resets_the_username_ip_count(api_client, make_user):
    make_user("alice")
    for _ in range(4):
        assert_invalid_credentials(login_from(api_client, USER_IP, password=WRONG))
    assert login_from(api_client, USER_IP).status_code == 200
    for _ in range(5):  # a full new allowance: the typo-prone user is not locked out
        assert_invalid_credentials(login_from(api_client, USER_IP, password=WRONG))
    assert_throttled(login_from(api_client, USER_IP))


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "8/15m"}})
def test_per_ip_throttle_spans_usernames(api_client, make_user):
    make_user("alice")
    make_user("bob")
    for i in range(8):  # spraying many usernames, each below its own limit
        assert_invalid_credentials(login_from(api_client, ATTACKER_IP, username=f"user{i}", password=WRONG))
    assert_throttled(login_from(api_client, ATTACKER_IP, username="bob"))
    assert login_from(api_client, USER_IP, username="bob").status_code == 200


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "8/15m"}})
def test_an_attacker_on_one_ip_cannot_lock_the_user_out_of_another(api_client, make_user):
    make_user("alice")
    for _ in range(8):  # both the (alice, attacker IP) and the attacker-IP limits are hit
        login_from(api_client, ATTACKER_IP, password=WRONG)
    assert_throttled(login_from(api_client, ATTACKER_IP))
    response = login_from(api_client, USER_IP)
    assert response.status_code == 200
    assert api_client.get("/api/protected/", **bearer(response.json()["access"])).status_code == 200
    # ...and the attacker is still blocked after the user's success elsewhere.
    assert_throttled(login_from(api_client, ATTACKER_IP, password=WRONG))


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_static_token_creation_by_password_is_throttled(api_client, make_user):
    make_user("alice")
    for _ in range(2):
        response = api_client.post("/api/auth/tokens/", {"username": "alice", "password": WRONG}, format="json")
        assert_invalid_credentials(response)
    response = api_client.post("/api/auth/tokens/", {"username": "alice", "password": PASSWORD}, format="json")
    assert_throttled(response)


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"])
@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_a_spoofed_forwarding_header_does_not_escape_the_throttle(api_client, make_user, header):
    """By default (CLIENT_IP_HEADER unset) the client IP is REMOTE_ADDR: an attacker
    rotating X-Forwarded-For values is still one IP."""
    make_user("alice")
    for i in range(2):
        api_client.post(
            "/api/auth/login/",
            {"username": "alice", "password": WRONG},
            format="json",
            REMOTE_ADDR=ATTACKER_IP,
            **{header: f"10.0.0.{i}"},
        )
    response = api_client.post(
        "/api/auth/login/",
        {"username": "alice", "password": PASSWORD},
        format="json",
        REMOTE_ADDR=ATTACKER_IP,
        **{header: "10.0.0.99"},
    )
    assert_throttled(response)
