"""Every way in refuses a password-only login for an account with a second factor: the API
login, cookie mode, the Django admin's login form, `tokens/` with a password, and the
simplejwt exchange — one test per path, each with real TOTP codes."""

from datetime import date, timedelta

import pytest
from django.test import Client, override_settings
from rest_framework_simplejwt.tokens import RefreshToken

from authgate.models import Session, StaticToken

from .support import PASSWORD, code_at, enrol_totp, login, verify


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def secret(api_client, user, tokens_for):
    secret, _codes = enrol_totp(api_client, tokens_for(user)["access"])
    Session.objects.all().delete()
    return secret


def test_the_api_login_refuses_the_password_alone(api_client, secret):
    response = login(api_client)
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert not Session.objects.exists()


def test_cookie_mode_refuses_the_password_alone_and_sets_no_cookie(api_client, secret):
    response = login(api_client, cookies=True)
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert "authgate_access" not in response.cookies and not Session.objects.exists()


def test_static_token_creation_with_a_password_alone_is_refused(api_client, secret):
    response = api_client.post("/api/auth/tokens/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert not StaticToken.objects.exists()
    wrong = api_client.post(
        "/api/auth/tokens/", {"username": "alice", "password": PASSWORD, "code": "000000"}, format="json"
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_code"
    with_code = api_client.post(
        "/api/auth/tokens/", {"username": "alice", "password": PASSWORD, "code": code_at(secret)}, format="json"
    )
    assert with_code.status_code == 201, with_code.content


def test_the_simplejwt_exchange_asks_for_the_second_factor(api_client, user, secret, settings):
    legacy = RefreshToken.for_user(user)
    conf = {"ENABLED": True, "UNTIL": date.today() + timedelta(days=30)}
    with override_settings(AUTHGATE={"SIMPLEJWT_MIGRATION": conf}):
        response = api_client.post("/api/auth/token/refresh/", {"refresh": str(legacy)}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "mfa_required"
        assert not Session.objects.exists()
        again = api_client.post("/api/auth/token/refresh/", {"refresh": str(legacy)}, format="json")
        assert again.status_code == 401  # spent: exchanged once, for the second step
        done = verify(api_client, response.json()["mfa_token"], code=code_at(secret))
        assert done.status_code == 200 and "access" in done.json()


def test_the_admin_login_form_refuses_the_password_alone_and_accepts_it_with_the_code(user, secret):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    browser = Client()
    refused = browser.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in browser.session
    assert "second factor" in refused.content.decode()
    wrong = browser.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD, "code": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in browser.session
    accepted = browser.post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD, "code": code_at(secret)}
    )
    assert accepted.status_code == 302 and browser.session["_auth_user_id"] == str(user.pk)


def test_the_admin_login_of_an_account_without_a_factor_needs_no_code(make_user):
    make_user("root", is_staff=True)
    browser = Client()
    response = browser.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
