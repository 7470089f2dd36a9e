"""Login with a second factor through the API: the pending step, `mfa/verify/`, what the
session then knows (amr, auth_time), TOTP set-up and recovery codes, with real codes."""

import io

import jwt
import pytest
from django.core.management import call_command

from authgate.models import Activity, PendingLogin, Session

from .support import PASSWORD, bearer, code_at, enrol_totp, login, mfa_login, verify


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def enrolled(api_client, user, tokens_for):
    first = tokens_for(user)
    secret, codes = enrol_totp(api_client, first["access"])
    return {"secret": secret, "codes": codes, "first": first}


def test_totp_set_up_answers_a_secret_an_otpauth_uri_and_an_svg_qr_code(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    body = api_client.post("/api/auth/mfa/totp/", format="json", **bearer(access)).json()
    assert body["otpauth_url"].startswith("otpauth://totp/") and f"secret={body['secret']}" in body["otpauth_url"]
    assert "issuer=testserver" in body["otpauth_url"]
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>")
    state = api_client.get("/api/auth/mfa/", **bearer(access)).json()
    assert state == {"methods": [], "recovery_codes_remaining": 0}  # not on until confirmed


def test_a_wrong_confirmation_code_is_400_invalid_code_and_leaves_totp_off(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    secret = api_client.post("/api/auth/mfa/totp/", format="json", **bearer(access)).json()["secret"]
    wrong = f"{(int(code_at(secret)) + 1) % 1000000:06d}"
    response = api_client.post("/api/auth/mfa/totp/confirm/", {"code": wrong}, format="json", **bearer(access))
    assert response.status_code == 400 and response.json()["code"] == "invalid_code"
    assert login(api_client).status_code == 200


def test_confirming_totp_answers_ten_recovery_codes_and_lists_the_factor(api_client, enrolled):
    assert len(enrolled["codes"]) == 10
    state = api_client.get("/api/auth/mfa/", **bearer(enrolled["first"]["access"])).json()
    assert [m["type"] for m in state["methods"]] == ["totp"] and state["recovery_codes_remaining"] == 10
    assert Activity.objects.filter(kind=Activity.MFA_ADDED).count() == 1


def test_the_right_password_of_an_account_with_totp_opens_no_session_and_asks_for_the_code(api_client, enrolled):
    before = Session.objects.count()
    body = mfa_login(api_client)
    assert body["methods"] == ["totp"] and body["mfa_token"].startswith("mfa_")
    assert "access" not in body and "refresh" not in body
    assert Session.objects.count() == before


def test_mfa_verify_with_a_real_code_answers_the_pair_with_amr_and_auth_time(api_client, enrolled):
    token = mfa_login(api_client, device="laptop")["mfa_token"]
    response = verify(api_client, token, code=code_at(enrolled["secret"]))
    assert response.status_code == 200, response.content
    body = response.json()
    claims = jwt.decode(body["access"], options={"verify_signature": False})
    assert claims["amr"] == ["mfa", "otp", "pwd"] and isinstance(claims["auth_time"], int)
    listed = api_client.get("/api/auth/sessions/", **bearer(body["access"])).json()
    current = next(s for s in listed if s["current"])
    assert current["amr"] == ["mfa", "otp", "pwd"] and current["device"] == "laptop" and current["auth_time"]
    assert api_client.get("/api/protected/", **bearer(body["access"])).status_code == 200


def test_an_mfa_token_works_once(api_client, enrolled):
    token = mfa_login(api_client)["mfa_token"]
    assert verify(api_client, token, code=code_at(enrolled["secret"])).status_code == 200
    again = verify(api_client, token, code=enrolled["codes"][0])
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"


@pytest.mark.parametrize("how", ["logout everywhere", "password change", "invalidate all"])
def test_an_mfa_token_dies_when_the_account_is_signed_out_everywhere(api_client, user, enrolled, how):
    token = mfa_login(api_client)["mfa_token"]  # the password alone: someone may have it
    if how == "logout everywhere":
        ended = api_client.post("/api/auth/logout/all/", format="json", **bearer(enrolled["first"]["access"]))
        assert ended.status_code == 200, ended.content
    elif how == "password change":
        user.set_password("a-brand-new-password-7")
        user.save()
    else:
        call_command("invalidate_all_tokens", "--confirm", stdout=io.StringIO())
    refused = verify(api_client, token, code=code_at(enrolled["secret"]))
    assert refused.status_code == 401 and refused.json()["code"] == "mfa_token_invalid", refused.content
    password = PASSWORD if how != "password change" else "a-brand-new-password-7"
    fresh = mfa_login(api_client, password=password)["mfa_token"]  # a login started afterwards is fine
    assert verify(api_client, fresh, code=code_at(enrolled["secret"], 1)).status_code == 200


def test_a_totp_code_accepted_at_login_is_refused_at_the_next_login(api_client, enrolled):
    code = code_at(enrolled["secret"])
    first = mfa_login(api_client)["mfa_token"]
    assert verify(api_client, first, code=code).status_code == 200
    second = mfa_login(api_client)["mfa_token"]
    replay = verify(api_client, second, code=code)
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_code"


def test_a_recovery_code_completes_a_login_once(api_client, enrolled):
    recovery = enrolled["codes"][3]
    token = mfa_login(api_client)["mfa_token"]
    assert verify(api_client, token, code=recovery).status_code == 200
    token = mfa_login(api_client)["mfa_token"]
    again = verify(api_client, token, code=recovery)
    assert again.status_code == 401 and again.json()["code"] == "invalid_code"
    assert Activity.objects.filter(kind=Activity.RECOVERY_CODE_USED).count() == 1


def test_an_mfa_token_is_dead_after_five_wrong_codes(api_client, enrolled, settings):
    settings.AUTHGATE = {"LOGIN_THROTTLE": {"USER_IP": "50/15m"}}  # the token's own limit, not the account's
    token = mfa_login(api_client)["mfa_token"]
    for attempt in range(5):
        wrong = verify(api_client, token, code=f"00000{attempt}")
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_code"
    dead = verify(api_client, token, code=code_at(enrolled["secret"]))
    assert dead.status_code == 401 and dead.json()["code"] == "mfa_token_invalid"


def test_wrong_codes_count_toward_the_accounts_login_throttle(api_client, enrolled, settings):
    settings.AUTHGATE = {"LOGIN_THROTTLE": {"USER_IP": "3/15m"}}
    token = mfa_login(api_client)["mfa_token"]
    for _ in range(3):
        assert verify(api_client, token, code="000000").status_code == 401
    throttled = verify(api_client, token, code=code_at(enrolled["secret"]))
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert login(api_client).status_code == 429  # the password too: one count per account


def test_unknown_or_malformed_mfa_tokens_are_401_mfa_token_invalid(api_client, enrolled):
    for token in ["mfa_nope", "x" * 99, "mfa_" + "a" * 43]:
        response = verify(api_client, token, code="123456")
        assert response.status_code == 401 and response.json()["code"] == "mfa_token_invalid"
    for body in [
        {},
        {"mfa_token": "mfa_x"},
        {"mfa_token": "mfa_x", "credential": "text"},
        {"mfa_token": ["a"], "code": 5},
    ]:
        response = api_client.post("/api/auth/mfa/verify/", body, format="json")
        assert response.status_code in (400, 401), response.content
        assert response["Content-Type"] == "application/json"


def test_the_pending_login_stores_only_a_hash_of_the_mfa_token(api_client, enrolled):
    token = mfa_login(api_client)["mfa_token"]
    assert not PendingLogin.objects.filter(digest__contains=token[4:20]).exists()


def test_cookie_login_with_a_factor_gets_the_cookies_from_mfa_verify(api_client, enrolled):
    body = mfa_login(api_client, cookies=True)
    assert "authgate_access" not in api_client.cookies or not api_client.cookies["authgate_access"].value
    response = verify(api_client, body["mfa_token"], code=code_at(enrolled["secret"]))
    assert response.status_code == 200 and "access" not in response.json()
    assert response.cookies["authgate_access"].value and response.cookies["authgate_refresh"]["httponly"]
    assert api_client.get("/api/protected/").status_code == 200
