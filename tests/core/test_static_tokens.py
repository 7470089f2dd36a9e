"""Static API tokens, `Authorization: Token <key>`, through the real API."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.settings import api_settings as drf_settings
from rest_framework.test import APIClient

from authgate import sessions, static_tokens
from authgate.models import StaticToken
from authgate.settings import api_settings

from ..conftest import PASSWORD, bearer

TOKENS = "/api/auth/tokens/"
PROTECTED = "/api/protected/"


def quick_user(username, **extra):
    """A user without a password hash: Argon2 costs ~0.1 s a user, and most tests here
    never log in with a password."""
    user = get_user_model()(username=username, email=f"{username}@example.com", **extra)
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture
def user(db):
    """Overrides conftest's `user`; tests that log in with the password take `make_user`."""
    return quick_user("alice")


def token_auth(key):
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def jwt_access(user):
    """A Bearer access token of a fresh session, without paying for a password login."""
    return sessions.open_session(user)[1].access


def create(client, body=None, **headers):
    return client.post(TOKENS, body or {}, format="json", **headers)


def assert_rejected(client, key, reason):
    response = client.get(PROTECTED, **token_auth(key))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == reason


# -- creating ------------------------------------------------------------------------------
def test_create_with_bearer_shows_the_key_once_and_it_authenticates(api_client, user):
    response = create(api_client, {"name": "ci"}, **bearer(jwt_access(user)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "token", "name", "expires_at"}
    assert body["name"] == "ci" and body["expires_at"] is None
    ok = api_client.get(PROTECTED, **token_auth(body["token"]))
    assert ok.status_code == 200
    assert ok.json()["message"] == "Hello alice, you have accessed a protected route!"

    listed = api_client.get(TOKENS, **token_auth(body["token"]))
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "id": body["id"],
            "name": "ci",
            "prefix": body["token"][:8],
            "created_at": listed.json()[0]["created_at"],
            "last_used_at": listed.json()[0]["last_used_at"],
            "expires_at": None,
        }
    ]
    assert body["token"] not in listed.content.decode()


def test_a_static_token_cannot_create_static_tokens(api_client, user):
    first, key = static_tokens.create_token(user, name="first")
    response = create(api_client, {"name": "second"}, **token_auth(key))
    assert response.status_code == 403, response.content
    assert response.json() == {
        "detail": "A static token cannot create static tokens: sign in, or send your username and password.",
        "code": "permission_denied",
    }
    assert list(StaticToken.objects.filter(user=user)) == [first]
    # Revoking the stolen key therefore ends everything it could do.
    assert api_client.delete(f"{TOKENS}{first.pk}/", **token_auth(key)).status_code == 204
    assert not StaticToken.objects.filter(user=user).exists()


def test_a_static_token_with_username_and_password_in_the_body_creates_one(api_client, make_user):
    make_user()
    _, key = static_tokens.create_token(get_user_model().objects.get(username="alice"), name="first")
    response = create(api_client, {"username": "alice", "password": PASSWORD, "name": "second"}, **token_auth(key))
    assert response.status_code == 201, response.content


def test_create_with_username_and_password_like_obtain_auth_token(api_client, make_user):
    make_user()
    response = create(api_client, {"username": "alice", "password": PASSWORD, "name": "script"})
    assert response.status_code == 201
    assert api_client.get(PROTECTED, **token_auth(response.json()["token"])).status_code == 200
    # The email works as the username, as at login.
    assert create(api_client, {"username": "alice@example.com", "password": PASSWORD}).status_code == 201


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_create_with_wrong_credentials_is_401_and_creates_nothing(api_client, make_user, username):
    make_user()
    response = create(api_client, {"username": username, "password": "wrong-password-1"})
    assert response.status_code == 401
    assert response.json() == {
        "detail": "No active account found with the given credentials.",
        "code": "invalid_credentials",
    }
    assert not StaticToken.objects.exists()


def test_create_with_inactive_user_is_invalid_credentials(api_client, make_user):
    make_user("sleepy", is_active=False)
    response = create(api_client, {"username": "sleepy", "password": PASSWORD})
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_create_unauthenticated_is_401(api_client, db):
    response = create(api_client, {"name": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "alice"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": -5}, "expires_in"),
        ({"expires_in": "soon"}, "expires_in"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_create_validation_errors_are_400_field_shape(api_client, user, body, field):
    response = create(api_client, body, **bearer(jwt_access(user)))
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not StaticToken.objects.exists()


def test_failed_password_creations_are_throttled_like_logins(api_client, make_user):
    make_user()
    with override_settings(AUTHGATE={**settings.AUTHGATE, "LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}}):
        for _ in range(2):
            assert create(api_client, {"username": "alice", "password": "wrong-password-1"}).status_code == 401
        blocked = create(api_client, {"username": "alice", "password": PASSWORD})
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "throttled"
        assert int(blocked["Retry-After"]) > 0
        assert not StaticToken.objects.exists()
        # One counter for both doors: the login endpoint is closed to this username+IP too.
        login = api_client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
        assert login.status_code == 429


# -- several tokens, listing, storage ------------------------------------------------------
def test_several_named_tokens_per_user_each_works(api_client, user):
    auth = bearer(jwt_access(user))
    keys = {name: create(api_client, {"name": name}, **auth).json()["token"] for name in ("ci", "laptop", "")}
    assert len(set(keys.values())) == 3
    for key in keys.values():
        assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    listed = api_client.get(TOKENS, **auth).json()
    assert sorted(row["name"] for row in listed) == ["", "ci", "laptop"]
    assert all("token" not in row and "digest" not in row for row in listed)


def test_list_shows_only_own_tokens_and_needs_authentication(api_client, user):
    static_tokens.create_token(quick_user("bob"), name="bobs")
    static_tokens.create_token(user, name="mine")
    assert [row["name"] for row in api_client.get(TOKENS, **bearer(jwt_access(user))).json()] == ["mine"]
    anonymous = api_client.get(TOKENS)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"


def test_a_database_dump_cannot_authenticate(api_client, user):
    key = create(api_client, {"name": "dumped"}, **bearer(jwt_access(user))).json()["token"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {StaticToken._meta.db_table}")
        dumped = [str(value) for row in cursor.fetchall() for value in row if value not in (None, "")]
    assert key not in dumped and not any(key in value for value in dumped)
    digest = StaticToken.objects.get().digest
    assert digest in dumped and len(digest) == 64
    for value in dumped:
        for header in (f"Token {value}", f"Bearer {value}"):
            response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=header)
            assert response.status_code == 401, (header, response.content)
    assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200  # the key itself still works


def test_keys_hashed_under_a_retired_secret_key_work_and_are_rehashed(api_client, user):
    old_secret = "old-secret-key-" + "x" * 40
    with override_settings(SECRET_KEY=old_secret):
        token, key = static_tokens.create_token(user, name="before rotation")
    old_digest = token.digest
    with override_settings(SECRET_KEY_FALLBACKS=[]):
        assert_rejected(api_client, key, "revoked")  # hashed under another key: unknown
    with override_settings(SECRET_KEY_FALLBACKS=[old_secret]):
        assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    token.refresh_from_db()
    assert token.digest != old_digest and token.digest == static_tokens.digest(key)
    with override_settings(SECRET_KEY_FALLBACKS=[]):
        assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200


# -- expiry and last use -------------------------------------------------------------------
def test_expiring_token_is_rejected_after_expiry(api_client, user):
    before = timezone.now()
    body = create(api_client, {"name": "short", "expires_in": 3600}, **bearer(jwt_access(user))).json()
    expires_at = parse_datetime(body["expires_at"])
    assert before + timedelta(seconds=3600) <= expires_at <= timezone.now() + timedelta(seconds=3600)
    assert api_client.get(PROTECTED, **token_auth(body["token"])).status_code == 200
    StaticToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_rejected(api_client, body["token"], "expired")


def test_last_used_at_is_written_at_most_once_per_interval(api_client, user):
    token, key = static_tokens.create_token(user)
    assert token.last_used_at is None
    assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    token.refresh_from_db()
    assert token.last_used_at == first_use

    # Once the interval has passed, the next request records the use again.
    stale = timezone.now() - api_settings.LAST_USED_UPDATE_INTERVAL - timedelta(seconds=1)
    StaticToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > stale + api_settings.LAST_USED_UPDATE_INTERVAL


# -- revoking ------------------------------------------------------------------------------
def test_delete_rejects_the_token_on_the_next_request(api_client, user):
    auth = bearer(jwt_access(user))
    gone = create(api_client, {"name": "gone"}, **auth).json()
    kept = create(api_client, {"name": "kept"}, **auth).json()
    assert api_client.get(PROTECTED, **token_auth(gone["token"])).status_code == 200
    response = api_client.delete(f"{TOKENS}{gone['id']}/", **auth)
    assert response.status_code == 204
    assert_rejected(api_client, gone["token"], "revoked")
    assert api_client.get(PROTECTED, **token_auth(kept["token"])).status_code == 200
    assert [row["name"] for row in api_client.get(TOKENS, **auth).json()] == ["kept"]


def test_a_token_can_delete_itself(api_client, user):
    token, key = static_tokens.create_token(user)
    assert api_client.delete(f"{TOKENS}{token.pk}/", **token_auth(key)).status_code == 204
    assert_rejected(api_client, key, "revoked")


def test_logout_with_a_static_token_deletes_it_and_leaves_jwt_sessions_alone(api_client, user):
    _, key = static_tokens.create_token(user)
    access = jwt_access(user)
    response = api_client.post("/api/auth/logout/", **token_auth(key))
    assert response.status_code == 200
    assert response.json() == {"detail": "Successfully logged out."}
    assert_rejected(api_client, key, "revoked")
    assert not StaticToken.objects.exists()
    assert api_client.get(PROTECTED, **bearer(access)).status_code == 200


def test_another_users_token_id_is_404_and_untouched(api_client, user):
    bobs_token, bobs_key = static_tokens.create_token(quick_user("bob"))
    auth = bearer(jwt_access(user))
    response = api_client.delete(f"{TOKENS}{bobs_token.pk}/", **auth)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api_client.delete(f"{TOKENS}999999/", **auth).status_code == 404
    assert api_client.get(PROTECTED, **token_auth(bobs_key)).status_code == 200


def test_deactivated_users_static_token_is_rejected_for_good(api_client, user):
    _, key = static_tokens.create_token(user)
    user.is_active = False
    user.save()
    assert_rejected(api_client, key, "revoked")  # deleted, not merely refused
    user.is_active = True
    user.save()
    assert_rejected(api_client, key, "revoked")


# -- the Authorization header --------------------------------------------------------------
@pytest.mark.parametrize(
    "header, code, reason",
    [
        ("Basic xyz", "not_authenticated", None),
        ("Tokenx abc", "not_authenticated", None),
        ("Bearerx abc", "not_authenticated", None),
        ("Bearer", "token_not_valid", "malformed"),
        ("Bearer ", "token_not_valid", "malformed"),
        ("Token", "token_not_valid", "malformed"),
        ("Token a b", "token_not_valid", "malformed"),
        ("Token " + "a" * 500, "token_not_valid", "malformed"),
        ("Token unknown-key", "token_not_valid", "revoked"),
        ("Token \u00e9\u00e8\u2603", "token_not_valid", "revoked"),
        ("token unknown-key", "token_not_valid", "revoked"),  # the scheme word is case-insensitive
        ("Bearer not.a.jwt", "token_not_valid", "malformed"),
    ],
)
def test_wrong_or_broken_authorization_is_401_json(api_client, db, header, code, reason):
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body.get("reason") == reason
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_both_schemes_work_side_by_side(api_client, user):
    names = [cls.__name__ for cls in drf_settings.DEFAULT_AUTHENTICATION_CLASSES]
    assert names == ["JWTSessionAuthentication", "StaticTokenAuthentication"]
    _, key = static_tokens.create_token(user)
    assert api_client.get(PROTECTED, **bearer(jwt_access(user))).status_code == 200
    assert api_client.get(PROTECTED, **token_auth(key)).status_code == 200
    assert api_client.get("/api/auth/me/", **token_auth(key)).json()["username"] == "alice"
    # A static key is no JWT, and a JWT is no static key.
    assert api_client.get(PROTECTED, **bearer(key)).json()["reason"] == "malformed"
    as_static = api_client.get(PROTECTED, **token_auth(jwt_access(user)))
    assert as_static.status_code == 401 and as_static.json()["code"] == "token_not_valid"


def test_static_token_needs_no_csrf_for_unsafe_methods(user):
    _, key = static_tokens.create_token(user)
    client = APIClient(enforce_csrf_checks=True)
    assert client.delete(f"{TOKENS}{StaticToken.objects.get().pk}/", **token_auth(key)).status_code == 204


# -- Django admin --------------------------------------------------------------------------
def test_admin_lists_tokens_and_revokes_them(user):
    revoked, revoked_key = static_tokens.create_token(user, name="old laptop")
    kept, kept_key = static_tokens.create_token(user, name="build server")
    admin = quick_user("admin", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(admin)

    page = client.get("/admin/authgate/statictoken/")
    assert page.status_code == 200
    html = page.content.decode()
    for token in (revoked, kept):
        assert token.name in html and token.prefix in html
    assert revoked_key not in html and kept_key not in html

    response = client.post(
        "/admin/authgate/statictoken/", {"action": "revoke_selected", "_selected_action": [revoked.pk]}
    )
    assert response.status_code == 302
    assert list(StaticToken.objects.values_list("name", flat=True)) == ["build server"]
    api = APIClient()
    assert_rejected(api, revoked_key, "revoked")
    assert api.get(PROTECTED, **token_auth(kept_key)).status_code == 200


def test_admin_revoke_needs_the_delete_permission(user):
    token, key = static_tokens.create_token(user, name="kept")
    viewer = quick_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_statictoken"))
    client = APIClient()
    client.force_login(viewer)
    assert client.get("/admin/authgate/statictoken/").status_code == 200
    client.post("/admin/authgate/statictoken/", {"action": "revoke_selected", "_selected_action": [token.pk]})
    assert StaticToken.objects.filter(pk=token.pk).exists()
    assert APIClient().get(PROTECTED, **token_auth(key)).status_code == 200
