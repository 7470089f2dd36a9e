"""
authgate with a user model that logs in by email and has no `username` field (run with
`--ds=tests.custom_user.settings`; see tests/core/test_custom_user_model.py).
"""

import pytest
from django.contrib.auth import get_user_model, user_logged_in
from django.core import mail
from rest_framework.test import APIClient

from authgate.models import Activity, MigratedToken, Session

PASSWORD = "correct-horse-battery-9"
User = get_user_model()


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada@example.com", PASSWORD, full_name="Ada Lovelace")


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def login(client, **body):
    return client.post("/api/auth/login/", {"password": PASSWORD, **body}, format="json")


def test_the_model_is_the_custom_one():
    assert User.USERNAME_FIELD == "email"
    assert not any(field.name == "username" for field in User._meta.fields)


def test_register_asks_for_the_models_fields(client, db):
    missing = client.post("/api/auth/register/", {"password": PASSWORD}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()) == {"email", "full_name"}
    created = client.post(
        "/api/auth/register/",
        {"email": "Grace@Example.com", "full_name": "Grace Hopper", "password": PASSWORD},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {"id": body["id"], "username": "Grace@example.com", "email": "Grace@example.com"}
    user = User.objects.get(pk=body["id"])
    assert user.full_name == "Grace Hopper" and user.check_password(PASSWORD)
    again = client.post(
        "/api/auth/register/", {"email": "grace@EXAMPLE.com", "full_name": "G", "password": PASSWORD}, format="json"
    )
    assert again.status_code == 400
    assert set(again.json()) == {"email"}
    weak = client.post(
        "/api/auth/register/", {"email": "x@example.com", "full_name": "X", "password": "x"}, format="json"
    )
    assert weak.status_code in (201, 400)  # no AUTH_PASSWORD_VALIDATORS here: accepted or refused, never a 500


def test_the_account_pages_forms_ask_for_the_models_fields(client, db):
    import re

    page = client.get("/").content.decode()
    form = page[page.index('<form id="register-form"') : page.index("</form>", page.index('<form id="register-form"'))]
    assert re.findall(r'<input name="(\w+)"', form) == ["email", "full_name", "password"]
    assert 'data-username-field="email"' in form
    assert re.findall(r'<span class="label">([^<]+)</span>', form) == ["Email", "Full name", "Password"]
    assert 'data-error-for="full_name"' in form and 'name="username"' not in form
    login = page[page.index('<form id="login-form"') : page.index("</form>", page.index('<form id="login-form"'))]
    assert re.findall(r'<span class="label">([^<]+)</span>', login) == ["Email", "Password"]


def test_seed_flow_register_login_protected_refresh_logout(client, db):
    assert (
        client.post(
            "/api/auth/register/", {"email": "ada@example.com", "full_name": "Ada", "password": PASSWORD}, format="json"
        ).status_code
        == 201
    )
    # Login by the username under authgate's name, or under the model's own field name.
    first = login(client, username="ada@example.com")
    assert first.status_code == 200, first.content
    second = login(client, email="ada@example.com")
    assert second.status_code == 200, second.content
    body = first.json()
    assert body["user"]["username"] == "ada@example.com"
    assert body["user"]["email"] == "ada@example.com"
    access = body["access"]
    assert client.get("/api/protected/", **bearer(access)).json() == {"user": "ada@example.com"}
    me = client.get("/api/auth/me/", **bearer(access)).json()
    assert me["username"] == "ada@example.com" and me["is_staff"] is False
    rotated = client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert client.post("/api/auth/logout/", **bearer(rotated.json()["access"])).status_code == 200
    refused = client.get("/api/protected/", **bearer(rotated.json()["access"]))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    # The other login is still signed in.
    assert client.get("/api/protected/", **bearer(second.json()["access"])).status_code == 200


def test_a_wrong_password_is_refused_and_signalled(client, ada):
    failures = Activity.objects.filter(kind=Activity.LOGIN_FAILED)
    assert login(client, username="ada@example.com", password="wrong-password-1").status_code == 401
    assert failures.count() == 1
    assert failures.get().username == "ada@example.com"


def test_login_keeps_last_login_and_sends_user_logged_in(client, ada):
    calls = []

    def receiver(sender, user, **kwargs):
        calls.append(user)

    user_logged_in.connect(receiver)
    try:
        assert login(client, email="ada@example.com").status_code == 200
    finally:
        user_logged_in.disconnect(receiver)
    assert calls == [ada]
    ada.refresh_from_db()
    assert ada.last_login is not None


def test_password_change_ends_the_other_sessions(client, ada):
    laptop, phone = login(client, email="ada@example.com").json(), login(client, email="ada@example.com").json()
    response = client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "another-horse-battery-7"},
        format="json",
        **bearer(laptop["access"]),
    )
    assert response.status_code == 200, response.content
    assert client.get("/api/protected/", **bearer(phone["access"])).status_code == 401
    assert client.get("/api/protected/", **bearer(laptop["access"])).status_code == 200


def test_deactivating_the_user_ends_their_sessions(client, ada):
    pair = login(client, email="ada@example.com").json()
    ada.is_active = False
    ada.save()
    assert client.get("/api/protected/", **bearer(pair["access"])).status_code == 401
    assert Session.objects.get(user=ada).end_reason == "user_inactive"


def test_static_token_with_the_password(client, ada):
    created = client.post(
        "/api/auth/tokens/", {"username": "ada@example.com", "password": PASSWORD, "name": "ci"}, format="json"
    )
    assert created.status_code == 201, created.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {created.json()['token']}")
    assert client.get("/api/protected/").json() == {"user": "ada@example.com"}


def test_password_reset_mail_reaches_the_custom_email_field(client, ada):
    response = client.post("/api/auth/password/reset/", {"email": "ada@example.com"}, format="json")
    assert response.status_code in (200, 202), response.content
    assert [message.to for message in mail.outbox][-1] == ["ada@example.com"]


def test_admin_lists_and_searches_sessions(client, ada, db):
    User.objects.create_superuser("root@example.com", PASSWORD, full_name="Root")
    login(client, email="ada@example.com")
    admin = APIClient()
    assert admin.login(username="root@example.com", password=PASSWORD)
    for url in (
        "/admin/authgate/session/?q=ada",
        "/admin/authgate/statictoken/?q=ada",
        "/admin/authgate/migratedtoken/?q=ada",
    ):
        assert admin.get(url).status_code == 200, url


def test_a_simplejwt_token_is_exchanged_without_simplejwts_blacklist_app(client, ada, settings):
    from datetime import date, timedelta

    from rest_framework_simplejwt.tokens import RefreshToken

    settings.AUTHGATE = {
        **settings.AUTHGATE,
        "SIMPLEJWT_MIGRATION": {"ENABLED": True, "UNTIL": date.today() + timedelta(days=1)},
    }
    legacy = str(RefreshToken.for_user(ada))
    first = client.post("/api/auth/token/refresh/", {"refresh": legacy}, format="json")
    assert first.status_code == 200, first.content
    assert client.get("/api/protected/", **bearer(first.json()["access"])).json() == {"user": "ada@example.com"}
    again = client.post("/api/auth/token/refresh/", {"refresh": legacy}, format="json")
    assert again.status_code == 401 and again.json()["reason"] == "revoked"
    assert MigratedToken.objects.get().user == ada


def test_reuse_detection_ends_the_session_under_atomic_requests(client, ada, settings):
    """ATOMIC_REQUESTS (this project's setting) rolls a request's writes back when its view
    answers an error: the session that reuse detection ends must stay ended."""
    from django.db import connection

    assert connection.settings_dict["ATOMIC_REQUESTS"]
    first = login(client, email="ada@example.com").json()
    second = client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    third = client.post("/api/auth/token/refresh/", {"refresh": second["refresh"]}, format="json").json()
    reused = client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert Session.objects.get().end_reason == "reuse_detected"
    after = client.post("/api/auth/token/refresh/", {"refresh": third["refresh"]}, format="json")
    assert after.status_code == 401, after.content
