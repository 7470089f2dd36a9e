"""Recent authentication: sensitive actions need a second-factor proof on the session within
REAUTH_WINDOW; `reauthenticate/` renews it; accounts without a factor are not asked."""

import pytest

from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

from authgate.mail import outbox
from authgate.models import Activity, Session

from .support import PASSWORD, bearer, code_at, enrol_totp, mfa_login, verify


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_session_opened_before_the_factor_must_reauthenticate_to_turn_it_off(api_client, user, tokens_for, smtp):
    outbox.flush()  # mails of earlier tests, still on their way, must not be counted here
    smtp.clear()
    older = tokens_for(user)["access"]
    enroller = tokens_for(user)["access"]
    secret, codes = enrol_totp(api_client, enroller)
    refused = api_client.delete("/api/auth/mfa/totp/", **bearer(older))
    assert refused.status_code == 403 and refused.json()["code"] == "reauthentication_required"
    assert refused.json()["methods"] == ["totp"]
    wrong = api_client.post("/api/auth/reauthenticate/", {"code": "000000"}, format="json", **bearer(older))
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_code"
    assert wrong["WWW-Authenticate"] == 'Bearer realm="api"'  # every 401 says how to authenticate
    renewed = api_client.post("/api/auth/reauthenticate/", {"code": code_at(secret)}, format="json", **bearer(older))
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["amr"] == ["mfa", "otp", "pwd"] and renewed.json()["auth_time"]
    assert api_client.delete("/api/auth/mfa/totp/", **bearer(older)).status_code == 204
    assert api_client.get("/api/auth/mfa/", **bearer(older)).json() == {"methods": [], "recovery_codes_remaining": 0}
    mails = smtp.wait_for(user.email, count=2)
    assert any("added" in m.subject for m in mails) and any("removed" in m.subject for m in mails)
    assert all("127.0.0.1" in m.text and "UTC" in m.text for m in mails)  # where from, and when
    assert Activity.objects.filter(kind=Activity.MFA_REMOVED, user=user).exists()


def test_the_session_that_turned_the_factor_on_may_regenerate_recovery_codes(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    _secret, old = enrol_totp(api_client, access)
    response = api_client.post("/api/auth/mfa/recovery-codes/", **bearer(access))
    assert response.status_code == 200 and len(response.json()["recovery_codes"]) == 10
    assert set(response.json()["recovery_codes"]).isdisjoint(old)


def test_the_proof_expires_after_the_reauth_window(api_client, user, tokens_for, settings):
    access = tokens_for(user)["access"]
    enrol_totp(api_client, access)
    settings.AUTHGATE = {"REAUTH_WINDOW": 0}
    response = api_client.post("/api/auth/mfa/recovery-codes/", **bearer(access))
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/api/auth/password/change/", {"old_password": PASSWORD, "new_password": "another-long-pass-42"}),
        ("patch", "/api/auth/me/", {"email": "new@example.com", "password": PASSWORD}),
        ("delete", "/api/auth/me/", {"password": PASSWORD}),
        ("post", "/api/auth/tokens/", {"name": "ci"}),
    ],
)
def test_sensitive_actions_of_an_account_with_a_factor_need_a_recent_proof(
    api_client, user, tokens_for, method, path, body
):
    stale = tokens_for(user)["access"]
    enrol_totp(api_client, tokens_for(user)["access"])
    response = getattr(api_client, method)(path, body, format="json", **bearer(stale))
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"


def test_a_login_with_the_second_factor_counts_as_a_recent_proof(api_client, user, tokens_for):
    secret, _codes = enrol_totp(api_client, tokens_for(user)["access"])
    access = verify(api_client, mfa_login(api_client)["mfa_token"], code=code_at(secret)).json()["access"]
    response = api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(access))
    assert response.status_code == 201, response.content


def test_a_password_does_not_renew_the_proof_of_an_account_with_a_factor(api_client, user, tokens_for):
    stale = tokens_for(user)["access"]
    enrol_totp(api_client, tokens_for(user)["access"])
    response = api_client.post("/api/auth/reauthenticate/", {"password": PASSWORD}, format="json", **bearer(stale))
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"


def test_an_account_without_a_factor_reauthenticates_with_its_password_and_is_never_asked(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    response = api_client.post("/api/auth/reauthenticate/", {"password": PASSWORD}, format="json", **bearer(access))
    assert response.status_code == 200 and response.json()["amr"] == ["pwd"]
    wrong = api_client.post("/api/auth/reauthenticate/", {"password": "nope"}, format="json", **bearer(access))
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(access)).status_code == 201
    assert Session.objects.get().amr == "pwd"
