"""
The threat model of SECURITY.md, one scenario per threat: what an attacker holding a
stolen access token, a stolen refresh token, a cross-site form, or the signing key can
do, and what a Redis outage changes. Each test plays the attacker and the victim through
the real API and asserts the control of SECURITY.md (and, where one remains, shows the
residual risk as it is, so that a change to it is noticed).
"""

import socket
import time

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from authgate.models import Session

from ..conftest import PASSWORD, bearer, login

PROTECTED = "/api/protected/"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    """Every scenario logs in several times; hashing is not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def refresh(client, token):
    return client.post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def assert_revoked(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json().get("reason", "revoked") == "revoked"


def _back_date_rotation(session_id, seconds=30):
    """As if the last rotation happened `seconds` ago (past the retry window)."""
    Session.objects.filter(pk=session_id).update(issued_at=int(time.time()) - seconds)


# -- stolen access token ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "how", ["logout by refresh token", "logout everywhere", "password change", "sign out that device", "deactivation"]
)
def test_stolen_access_token_is_refused_once_the_owner_acts(api_client, user, tokens_for, how):
    stolen = tokens_for(user, device="laptop")  # the thief copied this laptop's access token
    other = tokens_for(user, device="phone")  # the owner, on another device
    assert api_client.get(PROTECTED, **bearer(stolen["access"])).status_code == 200
    if how == "logout by refresh token":
        # The laptop's owner signs out (the laptop still has its refresh token).
        assert api_client.post("/api/auth/logout/", {"refresh": stolen["refresh"]}, format="json").status_code == 200
    elif how == "logout everywhere":
        assert api_client.post("/api/auth/logout/all/", **bearer(other["access"])).status_code == 200
    elif how == "password change":
        response = api_client.post(
            "/api/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "Fresh-passphrase-2024"},
            format="json",
            **bearer(other["access"]),
        )
        assert response.status_code == 200
    elif how == "sign out that device":
        response = api_client.delete(f"/api/auth/sessions/{stolen['session_id']}/", **bearer(other["access"]))
        assert response.status_code == 204
    else:
        user.is_active = False
        user.save()
    response = api_client.get(PROTECTED, **bearer(stolen["access"]))
    assert response.status_code == 401
    assert response.json()["reason"] == ("user_inactive" if how == "deactivation" else "revoked")


def test_a_stolen_access_token_cannot_mint_anything(api_client, user, tokens_for):
    """It is not a refresh token (wrong_type), cannot change the password without the old
    one, and cannot create a longer-lived credential beyond what the owner could: a static
    token made with it dies with the account (and is listed to the owner)."""
    stolen = tokens_for(user)
    response = refresh(api_client, stolen["access"])
    assert response.status_code == 401 and response.json()["reason"] == "wrong_type"
    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": "guess-1-guess", "new_password": "Fresh-passphrase-2024"},
        format="json",
        **bearer(stolen["access"]),
    )
    assert response.status_code == 400
    key = api_client.post("/api/auth/tokens/", {"name": "thief"}, format="json", **bearer(stolen["access"])).json()[
        "token"
    ]
    listed = api_client.get("/api/auth/tokens/", **bearer(tokens_for(user)["access"])).json()
    assert [t["name"] for t in listed] == ["thief"]  # the owner sees it, and can revoke it
    user.is_active = False
    user.save()
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


# -- stolen refresh token --------------------------------------------------------------------
def test_stolen_refresh_token_used_by_the_thief_first_ends_the_session_when_the_owner_refreshes(
    api_client, user, tokens_for
):
    owner = tokens_for(user)
    thief = refresh(APIClient(), owner["refresh"]).json()  # the thief rotates first
    assert api_client.get(PROTECTED, **bearer(thief["access"])).status_code == 200
    _back_date_rotation(owner["session_id"])
    assert_revoked(refresh(api_client, owner["refresh"]))  # the owner presents the spent token: reuse
    # The whole session is ended: the thief's fresh tokens die with it.
    assert_revoked(api_client.get(PROTECTED, **bearer(thief["access"])))
    assert_revoked(refresh(api_client, thief["refresh"]))
    assert Session.objects.get(pk=owner["session_id"]).end_reason == "reuse_detected"


def test_stolen_refresh_token_replayed_after_the_owner_refreshed_ends_the_session(api_client, user, tokens_for):
    owner = tokens_for(user)
    rotated = refresh(api_client, owner["refresh"]).json()
    _back_date_rotation(owner["session_id"])
    assert_revoked(refresh(APIClient(), owner["refresh"]))  # the thief replays the old one
    assert_revoked(api_client.get(PROTECTED, **bearer(rotated["access"])))


def test_replay_inside_the_retry_window_gets_the_same_pair_not_a_new_chain(api_client, user, tokens_for):
    """Residual risk, by design: within REFRESH_RETRY_WINDOW of a rotation the
    spent token returns the *same* pair, so a thief racing the owner by less than 10 s
    shares the owner's session rather than forking his own; the next rotation by either
    one makes the other's next refresh a reuse, ending the session."""
    owner = tokens_for(user)
    first = refresh(api_client, owner["refresh"]).json()
    replay = refresh(APIClient(), owner["refresh"]).json()
    assert (replay["access"], replay["refresh"]) == (first["access"], first["refresh"])
    thief_next = refresh(APIClient(), replay["refresh"]).json()  # the thief moves on
    _back_date_rotation(owner["session_id"])
    assert_revoked(refresh(api_client, first["refresh"]))  # the owner's turn: reuse detected
    assert_revoked(api_client.get(PROTECTED, **bearer(thief_next["access"])))


# -- XSS and CSRF in cookie mode ---------------------------------------------------------------
def test_cookie_mode_keeps_tokens_out_of_reach_of_page_scripts(api_client, user):
    response = login(api_client, cookies=True)
    assert response.status_code == 200
    assert "access" not in response.json() and "refresh" not in response.json()
    access, refresh_cookie = response.cookies["authgate_access"], response.cookies["authgate_refresh"]
    for morsel in (access, refresh_cookie):
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
    assert refresh_cookie["path"] == "/api/auth/"  # not sent to the rest of the site


def test_a_cross_site_form_cannot_act_in_cookie_mode(user):
    """What a foreign page can make a browser send: a form POST (urlencoded, multipart or
    text/plain) or a fetch without our CSRF header, with the auth cookies attached."""
    browser = APIClient(enforce_csrf_checks=True)
    assert login(browser, cookies=True).status_code == 200
    session = Session.objects.get()
    attempts = [
        ("/api/auth/logout/", "application/x-www-form-urlencoded", b""),
        ("/api/auth/logout/all/", "application/x-www-form-urlencoded", b""),
        (
            "/api/auth/password/change/",
            "application/x-www-form-urlencoded",
            b"old_password=x&new_password=Evil-passphrase-1",
        ),
        ("/api/auth/token/refresh/", "text/plain", b"{}"),
        ("/api/auth/tokens/", "multipart/form-data; boundary=b", b"--b--"),
        ("/api/auth/logout/all/", "application/json", b"{}"),
    ]
    for path, content_type, body in attempts:
        response = browser.generic(
            "POST", path, body, content_type=content_type, HTTP_ORIGIN="https://evil.example.test"
        )
        assert response.status_code in (403, 415), (path, response.status_code)
        assert "authgate_access" not in response.cookies
    session.refresh_from_db()
    assert session.ended_at is None and session.generation == 1
    assert not user.authgate_static_tokens.exists()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert browser.get(PROTECTED).status_code == 200


# -- Redis outage ----------------------------------------------------------------------------
def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_outage_never_accepts_a_revoked_token(api_client, user, tokens_for, caplog):
    """REDIS_URL points at a port where nothing listens (Redis down from the start): logins,
    requests and logouts work from the database, a logout still takes effect at once, and
    the health check says so."""
    with override_settings(AUTHGATE={"REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}):
        first, second = tokens_for(user), tokens_for(user)
        assert api_client.get(PROTECTED, **bearer(first["access"])).status_code == 200
        assert api_client.post("/api/auth/logout/", **bearer(first["access"])).status_code == 200
        response = api_client.get(PROTECTED, **bearer(first["access"]))
        assert response.status_code == 401 and response.json()["reason"] == "revoked"
        assert api_client.get(PROTECTED, **bearer(second["access"])).status_code == 200
        health = api_client.get("/api/health/").json()
        assert health["redis"] == "down" and health["database"] == "ok"
        # The bus's listener thread says so once its first attempt to subscribe has failed
        # (in its own time: on a busy machine after the requests above).
        deadline = time.monotonic() + 30
        while not any("Redis unavailable" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning that Redis is unavailable was logged"
            time.sleep(0.02)


# -- stolen Django login session (the admin's) ---------------------------------------------------
@pytest.mark.parametrize("how", ["logout everywhere", "an admin's logout of the user", "invalidate all"])
def test_a_stolen_admin_session_ends_when_its_account_is_signed_out_everywhere(api_client, make_user, tokens_for, how):
    owner = make_user("boss", is_staff=True, is_superuser=True)
    thief = Client()
    assert thief.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD}).status_code == 302
    assert thief.get("/admin/").status_code == 200  # the stolen session cookie works
    access = tokens_for(owner)["access"]
    path = {
        "logout everywhere": "/api/auth/logout/all/",
        "an admin's logout of the user": f"/api/auth/admin/users/{owner.pk}/logout/",
        "invalidate all": "/api/auth/admin/invalidate-all-tokens/",
    }[how]
    assert api_client.post(path, format="json", **bearer(access)).status_code == 200
    after = thief.get("/admin/")
    assert after.status_code == 302 and "/admin/login/" in after["Location"], how
    again = Client()  # a login after the sign-out is a new session, and it works
    assert again.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD}).status_code == 302
    assert again.get("/admin/").status_code == 200


def test_a_system_check_warns_when_admin_sessions_would_outlive_signing_out_everywhere(settings):
    from django.core import checks

    def warned():
        return "authgate.W011" in {m.id for m in checks.run_checks(tags=[checks.Tags.security])}

    ours = "authgate.login_sessions.SignedOutEverywhereMiddleware"
    assert not warned()  # the service's own MIDDLEWARE has it, after the authentication one
    with_it = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [path for path in with_it if path != ours]
    assert warned()
    settings.MIDDLEWARE = [ours, *settings.MIDDLEWARE]  # before the authentication middleware
    assert warned()
    settings.MIDDLEWARE = [path for path in with_it if "uthentication" not in path and path != ours]
    assert not warned()  # no Django login session on any request: nothing to end


# -- leaked signing key ------------------------------------------------------------------------
def test_rotating_the_signing_key_and_invalidating_all_recovers_from_a_leak(api_client, user, staff_user, tokens_for):
    """After a leak: a new SIGNING_KEY makes every token signed with the old one `malformed`
    at once; invalidate-all also ends every session (so tokens the attacker minted for
    known session ids stay dead even if the old key were put back)."""
    victim = tokens_for(user)
    with override_settings(AUTHGATE={"SIGNING_KEY": "a-brand-new-signing-key-" + "z" * 40}):
        response = api_client.get(PROTECTED, **bearer(victim["access"]))
        assert response.status_code == 401 and response.json()["reason"] == "malformed"
        assert refresh(api_client, victim["refresh"]).status_code == 401
        admin = tokens_for(staff_user)
        assert api_client.post("/api/auth/admin/invalidate-all-tokens/", **bearer(admin["access"])).status_code == 200
        fresh = tokens_for(user)
        assert api_client.get(PROTECTED, **bearer(fresh["access"])).status_code == 200
    assert_revoked(api_client.get(PROTECTED, **bearer(victim["access"])))  # old key back: still dead
