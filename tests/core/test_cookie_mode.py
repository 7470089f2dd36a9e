"""Cookie mode for browsers: HttpOnly auth cookies, CSRF on unsafe methods."""

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import override_settings
from rest_framework.test import APIClient

from authgate import cookies, sessions, static_tokens
from authgate.models import Session
from authgate.tokens import TokenPair

from ..conftest import bearer, login

pytestmark = pytest.mark.portable

ACCESS, REFRESH = "authgate_access", "authgate_refresh"
PROTECTED = "/api/protected/"


def set_cookies(response):
    """{name: {"value": ..., attribute: value-or-True}} parsed from the raw Set-Cookie lines
    exactly as they go on the wire (attribute names lower-cased)."""
    parsed = {}
    for morsel in response.cookies.values():
        first, *attributes = [part.strip() for part in morsel.OutputString().split(";")]
        name, _, value = first.partition("=")
        parsed[name] = {"value": value.strip('"')}
        for attribute in attributes:
            key, has_value, attr_value = attribute.partition("=")
            parsed[name][key.lower()] = attr_value if has_value else True
    return parsed


def csrf_headers(client):
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def cookie_login(client, **extra):
    response = login(client, cookies=True, **extra)
    assert response.status_code == 200, response.content
    return response


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    """Nearly every test here logs in, and cookie mode is not about password hashing: a cheap
    hasher spares ~0.2 s of Argon2 per test (hashing is tested with the login itself)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser():
    """A client that enforces CSRF like a browser-facing deployment does."""
    return APIClient(enforce_csrf_checks=True)


# -- login ---------------------------------------------------------------------------------
def test_login_with_cookies_sets_the_cookies_and_returns_no_tokens(browser, user):
    response = cookie_login(browser)
    body = response.json()
    assert "access" not in body and "refresh" not in body
    assert body["user"]["username"] == "alice"
    assert Session.objects.filter(pk=body["session_id"], ended_at__isnull=True).exists()

    jar = set_cookies(response)
    assert set(jar) == {ACCESS, REFRESH, "csrftoken", "authgate_device"}  # the last: new-device notices
    access, refresh, csrf = jar[ACCESS], jar[REFRESH], jar["csrftoken"]
    assert access["value"].count(".") == 2 and refresh["value"].count(".") == 2
    assert access["httponly"] is True
    assert refresh["httponly"] is True
    assert access["samesite"] == "Lax"
    assert refresh["samesite"] == "Lax"
    assert access["secure"] is True  # tests run with DEBUG off
    assert refresh["secure"] is True
    assert access["path"] == "/"
    assert refresh["path"] == "/api/auth/"
    assert access["max-age"] == "900"
    assert refresh["max-age"] == str(7 * 24 * 3600)
    assert "domain" not in access and "domain" not in refresh
    # Django's CSRF cookie, which the page's script reads and echoes as X-CSRFToken.
    assert csrf["value"]
    assert "httponly" not in csrf
    assert csrf["samesite"] == "Lax"


def test_a_csrf_token_planted_before_login_is_worthless_after_it(browser, user):
    planted = "p" * 32  # e.g. set by an attacker controlling a sibling subdomain
    browser.cookies["csrftoken"] = planted
    response = cookie_login(browser)
    assert set_cookies(response)["csrftoken"]["value"] != planted
    denied = browser.post("/api/auth/logout/all/", HTTP_X_CSRFTOKEN=planted)
    assert denied.status_code == 403
    assert Session.objects.get().ended_at is None


def test_login_without_cookies_sets_no_auth_cookie(api_client, user):
    response = login(api_client)
    assert {"access", "refresh"} <= set(response.json())
    assert ACCESS not in response.cookies and REFRESH not in response.cookies


@pytest.mark.parametrize(
    "debug, cookie_secure, secure",
    [
        (False, None, True),
        (True, None, False),
        (False, False, False),
        (True, True, True),
    ],
)
def test_secure_flag_follows_debug_and_cookie_secure(debug, cookie_secure, secure):
    conf = {**settings.AUTHGATE, "COOKIE_SECURE": cookie_secure}
    with override_settings(DEBUG=debug, AUTHGATE=conf):
        response = HttpResponse()
        cookies.set_auth_cookies(response, TokenPair(access="a.b.c", refresh="d.e.f"))
        cleared = HttpResponse()
        cookies.clear_auth_cookies(cleared)
    for jar in (set_cookies(response), set_cookies(cleared)):
        assert ("secure" in jar[ACCESS]) is secure
        assert ("secure" in jar[REFRESH]) is secure


def test_cookie_names_and_domain_are_configurable(user):
    conf = {
        **settings.AUTHGATE,
        "ACCESS_COOKIE_NAME": "ex_access",
        "REFRESH_COOKIE_NAME": "ex_refresh",
        "COOKIE_DOMAIN": ".example.com",
    }
    with override_settings(AUTHGATE=conf):
        client = APIClient(enforce_csrf_checks=True)
        jar = set_cookies(cookie_login(client))
        assert set(jar) == {"ex_access", "ex_refresh", "csrftoken", "authgate_device"}
        assert jar["ex_access"]["domain"] == ".example.com"
        assert jar["ex_refresh"]["domain"] == ".example.com"
        assert client.get(PROTECTED).status_code == 200
        # The default names mean nothing now.
        stranger = APIClient()
        stranger.cookies[ACCESS] = client.cookies["ex_access"].value
        assert stranger.get(PROTECTED).json()["code"] == "not_authenticated"
        logout = client.post("/api/auth/logout/", **csrf_headers(client))
        assert logout.status_code == 200
        cleared = set_cookies(logout)
        assert cleared["ex_access"]["max-age"] == "0" and cleared["ex_access"]["domain"] == ".example.com"
        assert cleared["ex_refresh"]["max-age"] == "0" and cleared["ex_refresh"]["domain"] == ".example.com"


# -- authenticating from the cookie --------------------------------------------------------
def test_requests_authenticate_from_the_access_cookie(browser, user):
    cookie_login(browser)
    response = browser.get(PROTECTED)
    assert response.status_code == 200
    assert response.json()["message"].startswith("Hello alice")
    assert browser.get("/api/auth/me/").json()["username"] == "alice"
    current = [row for row in browser.get("/api/auth/sessions/").json() if row["current"]]
    assert len(current) == 1


def test_an_authorization_header_wins_over_the_cookie(browser, user, make_user):
    bob = make_user("bob")
    cookie_login(browser)
    _, bobs_pair = sessions.open_session(bob)
    assert browser.get(PROTECTED, **bearer(bobs_pair.access)).json()["message"].startswith("Hello bob")
    _, bobs_key = static_tokens.create_token(bob)
    assert browser.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {bobs_key}").json()["message"].startswith("Hello bob")
    # Even a header that fails is not topped up from the cookie.
    assert browser.get(PROTECTED, HTTP_AUTHORIZATION="Bearer broken").status_code == 401
    assert browser.get(PROTECTED, HTTP_AUTHORIZATION="Basic eHl6").status_code == 401


def test_a_bad_access_cookie_is_401(api_client, db):
    api_client.cookies[ACCESS] = "not-a-token"
    response = api_client.get(PROTECTED)
    assert response.status_code == 401
    assert response.json()["reason"] == "malformed"


# -- CSRF ----------------------------------------------------------------------------------
def test_cross_site_post_without_csrf_header_is_403_and_changes_nothing(browser, user):
    cookie_login(browser)
    session = Session.objects.get()
    generation = session.generation

    for path in ("/api/auth/logout/all/", "/api/auth/logout/", "/api/auth/token/refresh/", "/api/auth/tokens/"):
        response = browser.post(path, {}, format="json")
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["detail"].startswith("CSRF Failed")
        assert ACCESS not in response.cookies and REFRESH not in response.cookies

    session.refresh_from_db()
    assert session.ended_at is None and session.generation == generation
    assert not user.authgate_static_tokens.exists()
    assert browser.get(PROTECTED).status_code == 200  # still signed in: nothing happened


def test_a_wrong_csrf_header_is_403(browser, user):
    cookie_login(browser)
    response = browser.post("/api/auth/logout/all/", HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert Session.objects.get().ended_at is None


def test_unsafe_methods_pass_with_the_csrf_header(browser, user):
    cookie_login(browser)
    assert (
        browser.post("/api/auth/tokens/", {"name": "from browser"}, format="json", **csrf_headers(browser)).status_code
        == 201
    )
    response = browser.post("/api/auth/logout/all/", **csrf_headers(browser))
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 1
    assert browser.get(PROTECTED).status_code == 401


def test_bearer_requests_need_no_csrf_even_with_cookies_present(browser, user):
    cookie_login(browser)
    _, pair = sessions.open_session(user)
    response = browser.post("/api/auth/logout/all/", **bearer(pair.access))
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 2


# -- refresh -------------------------------------------------------------------------------
def test_refresh_reads_the_cookie_rotates_and_resets_both_cookies(browser, user):
    login_jar = set_cookies(cookie_login(browser))
    response = browser.post("/api/auth/token/refresh/", {}, format="json", **csrf_headers(browser))
    assert response.status_code == 200, response.content
    assert "access" not in response.json() and "refresh" not in response.json()
    jar = set_cookies(response)
    for name, path in ((ACCESS, "/"), (REFRESH, "/api/auth/")):
        assert jar[name]["value"] != login_jar[name]["value"]
        assert jar[name]["path"] == path
        assert jar[name]["httponly"] is True and jar[name]["samesite"] == "Lax" and jar[name]["secure"] is True
    assert Session.objects.get().generation == 2
    assert browser.get(PROTECTED).status_code == 200  # with the new access cookie
    # The refresh token the login set is spent: outside the retry window it is reuse.
    with override_settings(AUTHGATE={**settings.AUTHGATE, "REFRESH_RETRY_WINDOW": 0}):
        spent = APIClient().post("/api/auth/token/refresh/", {"refresh": login_jar[REFRESH]["value"]}, format="json")
    assert spent.status_code == 401 and spent.json()["detail"] == "Token is blacklisted"


def test_refresh_body_wins_over_the_cookie_and_answers_in_the_body(browser, user):
    cookie_login(browser)
    _, other = sessions.open_session(user)
    response = browser.post("/api/auth/token/refresh/", {"refresh": other.refresh}, format="json")
    assert response.status_code == 200
    assert {"access", "refresh"} <= set(response.json())
    assert ACCESS not in response.cookies


def test_refresh_without_body_or_cookie_is_400(api_client, db):
    response = api_client.post("/api/auth/token/refresh/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"refresh": ["This field is required."]}


def test_refresh_with_a_dead_cookie_is_401_and_clears_the_cookies(browser, user):
    cookie_login(browser)
    sessions.end_user_sessions(user, sessions.LOGOUT_ALL)
    response = browser.post("/api/auth/token/refresh/", {}, format="json", **csrf_headers(browser))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    jar = set_cookies(response)
    assert jar[ACCESS]["max-age"] == "0" and jar[REFRESH]["max-age"] == "0"


# -- logout --------------------------------------------------------------------------------
def test_logout_ends_the_session_clears_both_cookies_and_old_values_fail(browser, user):
    login_jar = set_cookies(cookie_login(browser))
    response = browser.post("/api/auth/logout/", **csrf_headers(browser))
    assert response.status_code == 200
    assert response.json() == {"detail": "Successfully logged out."}
    assert Session.objects.get().ended_at is not None

    jar = set_cookies(response)
    for name, path in ((ACCESS, "/"), (REFRESH, "/api/auth/")):
        assert jar[name]["value"] == ""
        assert jar[name]["max-age"] == "0"
        assert jar[name]["path"] == path
        assert jar[name]["httponly"] is True
        assert jar[name]["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"

    # Someone who copied the cookies before logout gets nothing with them.
    thief = APIClient()
    thief.cookies[ACCESS] = login_jar[ACCESS]["value"]
    rejected = thief.get(PROTECTED)
    assert rejected.status_code == 401 and rejected.json()["reason"] == "revoked"
    thief.cookies[REFRESH] = login_jar[REFRESH]["value"]
    assert thief.post("/api/auth/token/refresh/", {}, format="json").status_code == 401
    assert (
        APIClient()
        .post("/api/auth/token/refresh/", {"refresh": login_jar[REFRESH]["value"]}, format="json")
        .status_code
        == 401
    )


def test_logout_with_only_the_access_cookie(browser, user):
    cookie_login(browser)
    del browser.cookies[REFRESH]  # e.g. the refresh cookie's Path did not match
    assert browser.post("/api/auth/logout/").status_code == 403  # still needs CSRF
    response = browser.post("/api/auth/logout/", **csrf_headers(browser))
    assert response.status_code == 200
    assert Session.objects.get().ended_at is not None
    assert set_cookies(response)[ACCESS]["max-age"] == "0"


def test_logout_with_a_spent_cookie_is_400_and_clears_the_cookies(browser, user):
    cookie_login(browser)
    sessions.end_user_sessions(user, sessions.LOGOUT_ALL)
    response = browser.post("/api/auth/logout/", **csrf_headers(browser))
    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"
    jar = set_cookies(response)
    assert jar[ACCESS]["max-age"] == "0" and jar[REFRESH]["max-age"] == "0"


def test_logout_leaves_other_sessions_alone(browser, user):
    cookie_login(browser)
    _, other = sessions.open_session(user)
    assert browser.post("/api/auth/logout/", **csrf_headers(browser)).status_code == 200
    assert APIClient().get(PROTECTED, **bearer(other.access)).status_code == 200
