"""
The error table, row by row: status, `code`, `reason`, `WWW-Authenticate` on
401, `Retry-After` on 429, one body for every failed login, and the failed-login throttle
(per username+IP and per IP; a success resets; another user on the same IP can log in).

The logout rows (400 `token_not_valid` / `refresh_required`) live in test_core_logout.py.
"""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from authgate import sessions

from ..conftest import PASSWORD, bearer, login

pytestmark = pytest.mark.portable

PROTECTED = "/api/protected/"
REFRESH = "/api/auth/token/refresh/"
VERIFY = "/api/auth/token/verify/"
# A cheap hasher for the tests that need dozens of failed logins: the throttle, not
# Argon2, is what they exercise (users are created under the same setting).
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login_from(client, ip, username="alice", password=PASSWORD):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_token_error(response, reason, status=401):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "token_not_valid"
    assert body["reason"] == reason
    assert isinstance(body["detail"], str) and body["detail"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


# -- login: one answer for every failure -----------------------------------------------------
def test_unknown_user_wrong_password_and_inactive_user_get_the_same_401(api_client, make_user):
    make_user("alice")
    make_user("ivan", is_active=False)
    unknown = login(api_client, "nobody", PASSWORD)
    wrong = login(api_client, "alice", PASSWORD + "x")
    inactive = login(api_client, "ivan", PASSWORD)
    for response in (unknown, wrong, inactive):
        assert response.status_code == 401
        assert response.json() == {
            "detail": "No active account found with the given credentials.",
            "code": "invalid_credentials",
        }
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert unknown.content == wrong.content == inactive.content


def test_login_missing_fields_keep_drf_validation_shape(api_client, db):
    response = api_client.post("/api/auth/login/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}
    response = api_client.post("/api/auth/login/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_static_token_creation_with_wrong_password_is_invalid_credentials(api_client, user):
    response = api_client.post("/api/auth/tokens/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


# -- login throttle ------------------------------------------------------------------------
def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@override_settings(PASSWORD_HASHERS=FAST_HASHERS)
def test_five_failures_per_username_and_ip_then_429_even_with_the_right_password(api_client, make_user):
    make_user("alice")
    make_user("bob")
    for _ in range(5):
        assert login(api_client, "alice", "wrong-password").status_code == 401
    assert_throttled(login(api_client, "alice", PASSWORD))
    assert_throttled(login(api_client, "ALICE ", PASSWORD))  # same username, normalised
    # Another user on the same IP is not locked out by alice's failures...
    assert login(api_client, "bob", PASSWORD).status_code == 200
    # ...and alice from another IP is not either.
    assert login_from(api_client, "10.0.0.9").status_code == 200


@override_settings(PASSWORD_HASHERS=FAST_HASHERS)
def test_a_success_resets_the_username_ip_count(api_client, make_user):
    make_user("alice")
    for _ in range(4):
        assert login(api_client, "alice", "wrong-password").status_code == 401
    assert login(api_client, "alice", PASSWORD).status_code == 200
    # Without the reset, the second of these would already be refused (4 + 2 > 5).
    for _ in range(5):
        assert login(api_client, "alice", "wrong-password").status_code == 401
    assert_throttled(login(api_client, "alice", PASSWORD))


@override_settings(PASSWORD_HASHERS=FAST_HASHERS)
def test_fifty_failures_per_ip_then_429_for_every_username(api_client, make_user):
    make_user("bob")
    # 49 failures spread over usernames (4 each at most, under the per-username limit).
    for i in range(49):
        assert login(api_client, f"stranger{i // 4}", "wrong-password").status_code == 401
    assert login(api_client, "bob", PASSWORD).status_code == 200  # under the IP limit
    assert login(api_client, "stranger-last", "wrong-password").status_code == 401  # the 50th
    assert_throttled(login(api_client, "bob", PASSWORD))  # a success does not reset the IP count
    assert login_from(api_client, "10.0.0.9", "bob").status_code == 200


def test_default_throttle_limits(db):
    from authgate.settings import api_settings

    assert api_settings.LOGIN_THROTTLE == {"USER_IP": "5/15m", "IP": "50/15m"}


# -- access token on a protected route ---------------------------------------------------------
def test_missing_access_token_is_not_authenticated(api_client, db):
    response = api_client.get(PROTECTED)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def session_tokens(user):
    """A session opened by the lifecycle itself (what login does once the password is
    checked): these tests are about token checks, so they skip the Argon2 login."""
    session, pair = sessions.open_session(user, ip="127.0.0.1")
    return {**pair.as_dict(), "session_id": str(session.pk)}


def _forge(access, *, key=None, algorithm="HS256", headers=None, **changes):
    payload = {**claims_of(access), **changes}
    return jwt.encode(payload, key or settings.SECRET_KEY, algorithm=algorithm, headers=headers)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda t: "not-a-jwt", id="garbage"),
        pytest.param(lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), id="bad-signature"),
        pytest.param(lambda t: _forge(t, key="k" * 64), id="other-key"),
        pytest.param(lambda t: _forge(t, algorithm="HS384"), id="disallowed-alg-same-key"),
        pytest.param(lambda t: b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims_of(t)) + ".", id="alg-none"),
        pytest.param(lambda t: _forge(t, headers={"kid": "unknown-key"}), id="unknown-kid"),
        pytest.param(lambda t: _forge(t, sid="not-a-session-id"), id="bad-sid"),
        pytest.param(lambda t: _forge(t, type="id"), id="unknown-type"),
        pytest.param(lambda t: "x" * 5000, id="oversized"),
    ],
)
def test_access_token_that_does_not_verify_is_malformed(api_client, session_tokens, make_token):
    token = make_token(session_tokens["access"])
    assert_token_error(api_client.get(PROTECTED, **bearer(token)), "malformed")


def test_bearer_header_without_token_is_malformed(api_client, db):
    assert_token_error(api_client.get(PROTECTED, HTTP_AUTHORIZATION="Bearer"), "malformed")
    assert_token_error(api_client.get(PROTECTED, HTTP_AUTHORIZATION="Bearer a b"), "malformed")


def test_expired_access_token(api_client, session_tokens):
    now = int(time.time())
    expired = _forge(session_tokens["access"], iat=now - 3600, exp=now - 1800)
    assert_token_error(api_client.get(PROTECTED, **bearer(expired)), "expired")
    # The same claims, unexpired, are accepted: only `exp` made the difference.
    fresh = _forge(session_tokens["access"], iat=now, exp=now + 600)
    assert api_client.get(PROTECTED, **bearer(fresh)).status_code == 200


def test_expired_access_token_minted_by_authgate(api_client, user):
    # Minted by authgate itself with a lifetime already over (beyond the leeway).
    with override_settings(AUTHGATE={"ACCESS_TOKEN_LIFETIME": -60}):
        access = login(api_client).json()["access"]
        assert_token_error(api_client.get(PROTECTED, **bearer(access)), "expired")


def test_revoked_access_token(api_client, session_tokens):
    access = session_tokens["access"]
    assert api_client.post("/api/auth/logout/", **bearer(access)).status_code == 200
    assert_token_error(api_client.get(PROTECTED, **bearer(access)), "revoked")


def test_refresh_token_as_access_token_is_wrong_type(api_client, session_tokens):
    assert_token_error(api_client.get(PROTECTED, **bearer(session_tokens["refresh"])), "wrong_type")


def test_access_token_of_deleted_user_is_revoked(api_client, user, session_tokens):
    user.delete()
    assert_token_error(api_client.get(PROTECTED, **bearer(session_tokens["access"])), "revoked")
    assert_token_error(api_client.post(REFRESH, {"refresh": session_tokens["refresh"]}, format="json"), "revoked")


def test_access_token_of_inactive_user(api_client, user, session_tokens):
    user.is_active = False
    user.save()
    assert_token_error(api_client.get(PROTECTED, **bearer(session_tokens["access"])), "user_inactive")


# -- refresh and verify endpoints -----------------------------------------------------------
def test_refresh_with_nothing_is_a_validation_error(api_client, db):
    response = api_client.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"refresh": ["This field is required."]}


def test_refresh_with_invalid_token(api_client, session_tokens):
    assert_token_error(api_client.post(REFRESH, {"refresh": "garbage"}, format="json"), "malformed")
    forged = _forge(session_tokens["refresh"], key="k" * 64)
    assert_token_error(api_client.post(REFRESH, {"refresh": forged}, format="json"), "malformed")


def test_refresh_with_access_token_is_wrong_type(api_client, session_tokens):
    response = api_client.post(REFRESH, {"refresh": session_tokens["access"]}, format="json")
    assert_token_error(response, "wrong_type")


def test_refresh_with_expired_refresh_token(api_client, session_tokens):
    now = int(time.time())
    expired = _forge(session_tokens["refresh"], iat=now - 3600, exp=now - 1800)
    assert_token_error(api_client.post(REFRESH, {"refresh": expired}, format="json"), "expired")


def test_refresh_with_revoked_refresh_token_is_blacklisted(api_client, session_tokens):
    logout = api_client.post("/api/auth/logout/", {"refresh": session_tokens["refresh"]}, format="json")
    assert logout.status_code == 200
    response = api_client.post(REFRESH, {"refresh": session_tokens["refresh"]}, format="json")
    assert_token_error(response, "revoked")
    assert response.json()["detail"] == "Token is blacklisted"


def test_verify(api_client, session_tokens):
    for token in (session_tokens["access"], session_tokens["refresh"]):
        response = api_client.post(VERIFY, {"token": token}, format="json")
        assert response.status_code == 200
        assert response.json() == {}
    assert_token_error(api_client.post(VERIFY, {"token": "garbage"}, format="json"), "malformed")
    response = api_client.post(VERIFY, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"token": ["This field is required."]}
    api_client.post("/api/auth/logout/", **bearer(session_tokens["access"]))
    for token in (session_tokens["access"], session_tokens["refresh"]):
        assert_token_error(api_client.post(VERIFY, {"token": token}, format="json"), "revoked")


# -- staff endpoints, unknown routes, bad bodies ------------------------------------------------
@pytest.mark.parametrize("path", ["/api/auth/admin/invalidate-all-tokens/", "/api/auth/admin/users/1/logout/"])
def test_staff_endpoint_called_by_non_staff_is_permission_denied(api_client, session_tokens, path):
    response = api_client.post(path, {}, format="json", **bearer(session_tokens["access"]))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action.",
        "code": "permission_denied",
    }
    # Nothing was ended.
    assert api_client.get(PROTECTED, **bearer(session_tokens["access"])).status_code == 200


@pytest.mark.parametrize("path", ["/api/auth/admin/invalidate-all-tokens/", "/api/auth/admin/users/1/logout/"])
def test_staff_endpoint_without_credentials_is_not_authenticated(api_client, db, path):
    response = api_client.post(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_unknown_url_is_json_404(api_client, db):
    response = api_client.get("/api/no-such-route/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unparseable_json_body_is_json_400(api_client, db):
    response = api_client.post("/api/auth/login/", b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
