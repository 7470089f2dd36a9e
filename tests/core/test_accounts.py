"""
The account endpoints and the session-ending rules behind them:
register, login (username or email), me, password change (ends the *other* sessions),
sessions list (`current`) and delete, deactivation, the staff endpoints, health, schema
and docs.
"""

import pytest

from django.conf import settings
from django.contrib.auth import get_user_model

from authgate.models import Session, StaticToken

from ..conftest import PASSWORD, bearer, login

pytestmark = pytest.mark.portable

User = get_user_model()
PROTECTED = "/api/protected/"
REFRESH = "/api/auth/token/refresh/"


def assert_token_error(response, reason):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == reason
    assert response["WWW-Authenticate"].startswith("Bearer")


# -- register, login, me ---------------------------------------------------------------------
def test_register_creates_a_user_who_can_log_in(api_client, db):
    response = api_client.post(
        "/api/auth/register/", {"username": "carol", "email": "Carol@Example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    # Django's create_user lower-cases the email's domain part.
    assert body == {"id": body["id"], "username": "carol", "email": "Carol@example.com"}
    created = User.objects.get(pk=body["id"])
    assert created.password.startswith("argon2$")  # Argon2 first in PASSWORD_HASHERS
    assert login(api_client, "carol").status_code == 200


def test_register_requires_every_field(api_client, db):
    response = api_client.post("/api/auth/register/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "email", "password"}


def test_register_rejects_duplicates_and_weak_passwords(api_client, make_user):
    make_user("alice", email="alice@example.com")
    taken_name = api_client.post(
        "/api/auth/register/", {"username": "alice", "email": "new@example.com", "password": PASSWORD}, format="json"
    )
    assert taken_name.status_code == 400 and "username" in taken_name.json()
    taken_email = api_client.post(
        "/api/auth/register/",
        {"username": "alice2", "email": "ALICE@example.com", "password": PASSWORD},
        format="json",
    )
    assert taken_email.status_code == 400 and list(taken_email.json()) == ["email"]
    weak = api_client.post(
        "/api/auth/register/", {"username": "dave", "email": "dave@example.com", "password": "123"}, format="json"
    )
    assert weak.status_code == 400 and list(weak.json()) == ["password"]
    assert not User.objects.filter(username__in=["alice2", "dave"]).exists()


@pytest.mark.parametrize(
    "username, email",
    [
        ("\\ud800", "lone@example.com"),  # a lone surrogate: no UTF-8 for it, so no query
        ("carol", "\\udc00carol@example.com"),
        ("a\\u0000b", "nul@example.com"),  # NUL: PostgreSQL stores no text with it
        ("dave", "dave\\u0000@example.com"),
    ],
    ids=["surrogate-username", "surrogate-email", "nul-username", "nul-email"],
)
def test_register_refuses_a_name_no_database_can_hold_as_a_field_error(api_client, db, username, email):
    body = '{"username": "%s", "email": "%s", "password": "%s"}' % (username, email, PASSWORD)
    response = api_client.generic("POST", "/api/auth/register/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()) <= {"username", "email"} and response.json()
    assert not User.objects.exists()


def test_login_by_username_or_email_opens_a_session_with_its_device(api_client, user):
    response = login(api_client, "ALICE@example.com", device="laptop")
    assert response.status_code == 200
    body = response.json()
    assert {"access", "refresh"} <= set(body)
    session = Session.objects.get()
    assert body["session_id"] == str(session.pk)
    assert session.device == "laptop" and session.ip == "127.0.0.1"
    me = api_client.get("/api/auth/me/", **bearer(body["access"]))
    assert me.status_code == 200
    assert {"id": user.pk, "username": "alice", "email": "alice@example.com"}.items() <= me.json().items()


def test_protected_route_greets_the_user(api_client, user, tokens_for):
    response = api_client.get(PROTECTED, **bearer(tokens_for(user)["access"]))
    assert response.json() == {"message": "Hello alice, you have accessed a protected route!"}


# -- password change -------------------------------------------------------------------------
def test_password_change_ends_every_other_session_but_not_the_current(api_client, user, tokens_for):
    current = tokens_for(user, device="laptop")
    other = tokens_for(user, device="phone")
    wrong = api_client.post(
        "/api/auth/password/change/",
        {"old_password": "nope", "new_password": "n3w-Passphrase!"},
        format="json",
        **bearer(current["access"]),
    )
    assert wrong.status_code == 400 and list(wrong.json()) == ["old_password"]
    assert api_client.get(PROTECTED, **bearer(other["access"])).status_code == 200  # nothing ended

    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "n3w-Passphrase!"},
        format="json",
        **bearer(current["access"]),
    )
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 1
    assert api_client.get(PROTECTED, **bearer(current["access"])).status_code == 200
    assert api_client.post(REFRESH, {"refresh": current["refresh"]}, format="json").status_code == 200
    assert_token_error(api_client.get(PROTECTED, **bearer(other["access"])), "revoked")
    assert Session.objects.get(device="phone").end_reason == "password_changed"
    assert login(api_client, "alice", PASSWORD).status_code == 401
    assert login(api_client, "alice", "n3w-Passphrase!").status_code == 200


def test_password_change_applies_the_password_validators(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "1234"},
        format="json",
        **bearer(access),
    )
    assert response.status_code == 400 and list(response.json()) == ["new_password"]


# -- sessions --------------------------------------------------------------------------------
def test_sessions_list_marks_the_current_one(api_client, user, tokens_for):
    laptop = tokens_for(user, device="laptop")
    phone = api_client.post(
        "/api/auth/login/",
        {"username": "alice", "password": PASSWORD, "device": "phone"},
        format="json",
        HTTP_USER_AGENT="PhoneBrowser/1.0",
        REMOTE_ADDR="10.1.2.3",
    ).json()
    ended = tokens_for(user, device="old")
    api_client.post("/api/auth/logout/", **bearer(ended["access"]))

    response = api_client.get("/api/auth/sessions/", **bearer(phone["access"]))
    assert response.status_code == 200
    rows = {row["device"]: row for row in response.json()}
    assert set(rows) == {"laptop", "phone"}  # ended sessions are not listed
    assert set(rows["phone"]) == {
        "id",
        "device",
        "ip",
        "user_agent",
        "created_at",
        "last_used_at",
        "current",
        "amr",
        "auth_time",
    }
    assert rows["phone"]["current"] is True and rows["laptop"]["current"] is False
    assert rows["phone"]["id"] == phone["session_id"] and rows["laptop"]["id"] == laptop["session_id"]
    assert rows["phone"]["ip"] == "10.1.2.3" and rows["phone"]["user_agent"] == "PhoneBrowser/1.0"


def test_delete_one_of_my_sessions(api_client, user, tokens_for):
    laptop = tokens_for(user, device="laptop")
    phone = tokens_for(user, device="phone")
    response = api_client.delete(f"/api/auth/sessions/{phone['session_id']}/", **bearer(laptop["access"]))
    assert response.status_code == 204
    assert_token_error(api_client.get(PROTECTED, **bearer(phone["access"])), "revoked")
    assert api_client.get(PROTECTED, **bearer(laptop["access"])).status_code == 200
    # Already ended: there is nothing to delete any more.
    again = api_client.delete(f"/api/auth/sessions/{phone['session_id']}/", **bearer(laptop["access"]))
    assert again.status_code == 404


def test_delete_another_users_session_is_404_and_ends_nothing(api_client, make_user, tokens_for):
    alice = tokens_for(make_user("alice"))
    bob = tokens_for(make_user("bob"))
    response = api_client.delete(f"/api/auth/sessions/{bob['session_id']}/", **bearer(alice["access"]))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert api_client.get(PROTECTED, **bearer(bob["access"])).status_code == 200
    missing = api_client.delete("/api/auth/sessions/00000000-0000-0000-0000-000000000000/", **bearer(alice["access"]))
    assert missing.status_code == 404


# -- deactivation ----------------------------------------------------------------------------
def test_deactivated_user_is_refused_at_once_with_every_credential(api_client, make_user, tokens_for):
    alice = make_user("alice")
    bob = make_user("bob")
    jwt_tokens = tokens_for(alice)
    bobs = tokens_for(bob)
    key = api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(jwt_tokens["access"])).json()[
        "token"
    ]
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200

    alice.is_active = False
    alice.save()  # as the Django admin does

    assert_token_error(api_client.get(PROTECTED, **bearer(jwt_tokens["access"])), "user_inactive")
    # The static key was deleted for good (re-activation must not bring it back).
    assert_token_error(api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}"), "revoked")
    refused = api_client.post(REFRESH, {"refresh": jwt_tokens["refresh"]}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "token_not_valid"
    assert Session.objects.get(user=alice).end_reason == "user_inactive"
    assert api_client.get(PROTECTED, **bearer(bobs["access"])).status_code == 200


def test_deactivation_by_queryset_update_is_refused_too(api_client, user, tokens_for):
    """No signal fires on QuerySet.update(); the per-request is_active check still refuses."""
    access = tokens_for(user)["access"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_token_error(api_client.get(PROTECTED, **bearer(access)), "user_inactive")


# -- staff endpoints -------------------------------------------------------------------------
def test_invalidate_all_ends_every_session_of_every_user(api_client, make_user, tokens_for):
    staff = tokens_for(make_user("root", is_staff=True))
    alice = tokens_for(make_user("alice"))
    bob = tokens_for(make_user("bob"))
    key = api_client.post("/api/auth/tokens/", {}, format="json", **bearer(alice["access"])).json()["token"]

    response = api_client.post("/api/auth/admin/invalidate-all-tokens/", **bearer(staff["access"]))
    assert response.status_code == 200
    assert response.json() == {"detail": "All user sessions invalidated successfully", "sessions_ended": 3}
    for tokens in (staff, alice, bob):
        assert_token_error(api_client.get(PROTECTED, **bearer(tokens["access"])), "revoked")
    # Without include_static_tokens, static tokens survive.
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_invalidate_all_with_static_tokens(api_client, make_user, tokens_for):
    staff = tokens_for(make_user("root", is_staff=True))
    alice = tokens_for(make_user("alice"))
    key = api_client.post("/api/auth/tokens/", {}, format="json", **bearer(alice["access"])).json()["token"]
    response = api_client.post(
        "/api/auth/admin/invalidate-all-tokens/",
        {"include_static_tokens": True},
        format="json",
        **bearer(staff["access"]),
    )
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 2
    assert StaticToken.objects.count() == 0
    refused = api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and refused.json()["code"] == "token_not_valid"


def test_admin_logs_out_one_user(api_client, make_user, tokens_for):
    staff = tokens_for(make_user("root", is_staff=True))
    alice_user = make_user("alice")
    alice = [tokens_for(alice_user, device=name) for name in ("laptop", "phone")]
    bob = tokens_for(make_user("bob"))
    response = api_client.post(f"/api/auth/admin/users/{alice_user.pk}/logout/", **bearer(staff["access"]))
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 2
    for tokens in alice:
        assert_token_error(api_client.get(PROTECTED, **bearer(tokens["access"])), "revoked")
    for tokens in (staff, bob):
        assert api_client.get(PROTECTED, **bearer(tokens["access"])).status_code == 200
    unknown = api_client.post("/api/auth/admin/users/999999/logout/", **bearer(staff["access"]))
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


# -- service endpoints -----------------------------------------------------------------------
def test_health(api_client, db):
    response = api_client.get("/api/health/")
    assert response.status_code == 200
    expected_redis = "ok" if getattr(settings, "REDIS_URL", "") else "disabled"
    assert response.json() == {"status": "ok", "database": "ok", "redis": expected_redis}


def test_public_route(api_client, db):
    response = api_client.get("/api/public/")
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_schema_and_docs(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/auth/login/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/auth/sessions/{session_id}/",
    ):
        assert path in document["paths"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
