"""
WebAuthn through the HTTP API with a software authenticator (tests/mfa/soft_authenticator.py):
every algorithm registered and used, passwordless login through every login rule, the key
as second factor and for re-authentication, single-use challenges (also under concurrency),
the counter, origin and RP ID checks, and bad input answered with JSON.

The browser ceremonies (Chromium's virtual authenticator) are in test_webauthn_browser.py;
here each response is shaped exactly, with a valid signature, so a refusal is for the
reason under test — and each refusal has its accepted twin in the same file.
"""

import os
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from authgate.mfa.webauthn.models import WebAuthnChallenge, WebAuthnCredential
from authgate.models import Activity, Session
from tests.conftest import bearer, login
from tests.mfa.soft_authenticator import EDDSA, ES256, RS256, SoftAuthenticator

ORIGIN = "http://testserver"  # the test client's origin; the RP ID is its host name
BEGIN = "/api/auth/mfa/webauthn/register/begin/"
COMPLETE = "/api/auth/mfa/webauthn/register/complete/"
PASSKEY_BEGIN = "/api/auth/passkey/login/begin/"
PASSKEY_COMPLETE = "/api/auth/passkey/login/complete/"


def post(client, path, body=None, access=None):
    return client.post(path, body or {}, format="json", **(bearer(access) if access else {}))


def add_key(client, access, authenticator, name="Laptop"):
    options = post(client, BEGIN, access=access)
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json()["publicKey"], origin=ORIGIN)
    response = post(client, COMPLETE, {"credential": credential, "name": name}, access)
    assert response.status_code == 201, response.content
    return response.json()


def passkey_login(client, authenticator, **shape):
    begin = post(client, PASSKEY_BEGIN).json()
    credential = authenticator.get(begin["publicKey"], origin=shape.pop("origin", ORIGIN), **shape)
    return post(client, PASSKEY_COMPLETE, {"challenge_id": begin["challenge_id"], "credential": credential}), credential


def session_amr(body):
    return Session.objects.get(pk=body["session_id"]).amr.split()


@pytest.mark.parametrize("alg", [ES256, EDDSA, RS256], ids=["ES256", "EdDSA", "RS256"])
def test_a_key_of_each_algorithm_registers_and_signs_in_without_a_password(api_client, user, tokens_for, alg):
    authenticator = SoftAuthenticator(alg)
    added = add_key(api_client, tokens_for(user)["access"], authenticator)
    assert added["name"] == "Laptop" and len(added["recovery_codes"]) == 10  # the first factor
    response, _ = passkey_login(api_client, authenticator)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"] and body["refresh"] and body["user"]["username"] == user.username
    assert session_amr(body) == ["hwk", "mfa", "user"]


def test_the_creation_options_are_the_level_3_json_form_asking_for_a_passkey(api_client, user, tokens_for):
    public_key = post(api_client, BEGIN, access=tokens_for(user)["access"]).json()["publicKey"]
    assert public_key["rp"]["id"] == "testserver"
    assert {p["alg"] for p in public_key["pubKeyCredParams"]} == {ES256, EDDSA, RS256}
    assert public_key["authenticatorSelection"]["residentKey"] in {"required", "preferred"}
    assert public_key["user"]["id"] and user.username not in public_key["user"]["id"]
    assert isinstance(public_key["challenge"], str) and public_key["excludeCredentials"] == []
    assert public_key["extensions"] == {"credProps": True}


def test_a_synced_passkey_is_recorded_as_a_software_key(api_client, user, tokens_for):
    authenticator = SoftAuthenticator(synced=True)
    add_key(api_client, tokens_for(user)["access"], authenticator)
    assert WebAuthnCredential.objects.get().backup_eligible
    response, _ = passkey_login(api_client, authenticator)
    assert session_amr(response.json()) == ["mfa", "swk", "user"]


def test_a_replayed_assertion_is_refused(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    begin = post(api_client, PASSKEY_BEGIN).json()
    credential = authenticator.get(begin["publicKey"], origin=ORIGIN)
    body = {"challenge_id": begin["challenge_id"], "credential": credential}
    assert post(api_client, PASSKEY_COMPLETE, body).status_code == 200
    again = post(api_client, PASSKEY_COMPLETE, body)
    assert again.status_code == 401 and again.json()["code"] == "invalid_credentials"


def test_the_same_assertion_sent_many_times_at_once_opens_one_session(transactional_db, make_user):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    user = make_user()
    client = APIClient()
    authenticator = SoftAuthenticator()
    add_key(client, login(client, user.username, PASSWORD).json()["access"], authenticator)
    begin = post(client, PASSKEY_BEGIN).json()
    body = {"challenge_id": begin["challenge_id"], "credential": authenticator.get(begin["publicKey"], origin=ORIGIN)}
    # Four at once: under the login throttle's 5 per account and IP (each check holds a place).
    statuses, barrier = [], threading.Barrier(4)

    def attempt():
        barrier.wait()
        try:
            statuses.append(post(APIClient(), PASSKEY_COMPLETE, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [401] * 3
    assert Session.objects.filter(user=user, amr__contains="user").count() == 1  # passkey logins only


@pytest.mark.parametrize(
    "shape",
    [
        {"origin": "http://evil.example"},
        {"rp_id": "evil.example"},
        {"sign_count": 0},  # not above the stored counter: a cloned key
        {"user_verified": False},  # passwordless needs the user verified
    ],
    ids=["wrong-origin", "wrong-rp-id", "old-counter", "not-user-verified"],
)
def test_a_well_signed_assertion_is_refused_for_the_reason_under_test(api_client, user, tokens_for, shape):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    assert passkey_login(api_client, authenticator)[0].status_code == 200  # the accepted twin
    response, _ = passkey_login(api_client, authenticator, **shape)
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials", response.content
    assert Activity.objects.filter(kind=Activity.LOGIN_FAILED, user=user).count() == 1


def test_an_expired_challenge_is_refused(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    begin = post(api_client, PASSKEY_BEGIN).json()
    WebAuthnChallenge.objects.filter(pk=begin["challenge_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    credential = authenticator.get(begin["publicKey"], origin=ORIGIN)
    response = post(api_client, PASSKEY_COMPLETE, {"challenge_id": begin["challenge_id"], "credential": credential})
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_a_registration_from_another_origin_is_refused(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    options = post(api_client, BEGIN, access=access).json()["publicKey"]
    credential = SoftAuthenticator().create(options, origin="http://evil.example")
    response = post(api_client, COMPLETE, {"credential": credential, "name": "x"}, access)
    assert response.status_code == 400 and response.json()["code"] == "invalid_credential"
    assert not WebAuthnCredential.objects.exists()


def test_a_key_is_the_second_factor_of_a_password_login(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    first = login(api_client)
    assert first.status_code == 403 and first.json()["code"] == "mfa_required"
    body = first.json()
    assert "webauthn" in body["methods"] and body["webauthn"]["publicKey"]["allowCredentials"][0]["id"]
    credential = authenticator.get(body["webauthn"]["publicKey"], origin=ORIGIN)
    second = post(api_client, "/api/auth/mfa/verify/", {"mfa_token": body["mfa_token"], "credential": credential})
    assert second.status_code == 200, second.content
    assert session_amr(second.json()) == ["hwk", "mfa", "pwd"]
    for kind in (Activity.MFA_ADDED, Activity.MFA_USED):  # in the trail (and the metrics), as a key
        assert Activity.objects.filter(kind=kind, user=user, details__factor="webauthn").count() == 1


def test_another_users_key_is_no_second_factor(api_client, make_user, tokens_for):
    alice, bob = make_user("alice"), make_user("bob")
    alices_key, bobs_key = SoftAuthenticator(), SoftAuthenticator()
    add_key(api_client, tokens_for(alice)["access"], alices_key)
    add_key(api_client, tokens_for(bob)["access"], bobs_key)
    body = login(api_client, "alice").json()
    credential = bobs_key.get(body["webauthn"]["publicKey"], origin=ORIGIN)
    response = post(api_client, "/api/auth/mfa/verify/", {"mfa_token": body["mfa_token"], "credential": credential})
    assert response.status_code == 401 and response.json()["code"] == "invalid_code"


def test_passwordless_login_honours_the_inactive_and_verification_rules(api_client, user, tokens_for, settings):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    settings.AUTHGATE = {**getattr(settings, "AUTHGATE", {}), "REQUIRE_EMAIL_VERIFICATION": True}
    response, _ = passkey_login(api_client, authenticator)
    assert response.status_code == 403 and response.json()["code"] == "email_unverified"
    settings.AUTHGATE = {**settings.AUTHGATE, "REQUIRE_EMAIL_VERIFICATION": False}
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    response, _ = passkey_login(api_client, authenticator)
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_failed_passkey_logins_count_toward_the_login_throttle(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    for _ in range(5):  # LOGIN_THROTTLE USER_IP: 5 failures per 15 minutes
        assert passkey_login(api_client, authenticator, origin="http://evil.example")[0].status_code == 401
    response, _ = passkey_login(api_client, authenticator)
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert login(api_client).status_code == 429  # one count for the account, whatever the way in


def test_removing_a_key_needs_a_recent_second_factor_proof(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    old_session = tokens_for(user)["access"]  # opened before the factor existed
    added = add_key(api_client, tokens_for(user)["access"], authenticator)
    path = f"/api/auth/mfa/webauthn/{added['id']}/"
    refused = api_client.delete(path, **bearer(old_session))
    assert refused.status_code == 403 and refused.json()["code"] == "reauthentication_required"
    public_key = refused.json()["webauthn"]["publicKey"]
    proof = authenticator.get(public_key, origin=ORIGIN)
    renewed = post(api_client, "/api/auth/reauthenticate/", {"credential": proof}, old_session)
    assert renewed.status_code == 200 and "hwk" in renewed.json()["amr"], renewed.content
    assert api_client.delete(path, **bearer(old_session)).status_code == 204
    assert not WebAuthnCredential.objects.exists()
    assert Activity.objects.filter(kind=Activity.MFA_REMOVED, user=user).exists()
    assert login(api_client).status_code == 200  # no factor left


def test_a_second_key_can_be_added_only_after_a_recent_proof(api_client, user, tokens_for):
    first, second = SoftAuthenticator(), SoftAuthenticator(RS256)
    old_session = tokens_for(user)["access"]
    add_key(api_client, tokens_for(user)["access"], first)
    refused = post(api_client, BEGIN, access=old_session)
    assert refused.status_code == 403 and refused.json()["code"] == "reauthentication_required"
    # The session that added the first key proved it: it may add another at once.
    body = login(api_client).json()
    proof = first.get(body["webauthn"]["publicKey"], origin=ORIGIN)
    fresh = post(api_client, "/api/auth/mfa/verify/", {"mfa_token": body["mfa_token"], "credential": proof}).json()
    added = add_key(api_client, fresh["access"], second, name="Phone")
    assert "recovery_codes" not in added
    listed = api_client.get("/api/auth/mfa/", **bearer(fresh["access"])).json()["methods"]
    assert [m["name"] for m in listed if m["type"] == "webauthn"] == ["Laptop", "Phone"]


def test_another_users_key_cannot_be_removed(api_client, make_user, tokens_for):
    alice, bob = make_user("alice"), make_user("bob")
    added = add_key(api_client, tokens_for(alice)["access"], SoftAuthenticator())
    response = api_client.delete(f"/api/auth/mfa/webauthn/{added['id']}/", **bearer(tokens_for(bob)["access"]))
    assert response.status_code == 404 and WebAuthnCredential.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"challenge_id": "not-a-uuid", "credential": {}},
        {"challenge_id": "00000000-0000-0000-0000-000000000000", "credential": "text"},
        {"challenge_id": "00000000-0000-0000-0000-000000000000", "credential": {"response": {"clientDataJSON": "!!"}}},
        {"challenge_id": "00000000-0000-0000-0000-000000000000", "credential": {"id": 5, "response": []}},
        {"challenge_id": "00000000-0000-0000-0000-000000000000", "credential": {"response": {"clientDataJSON": "e30"}}},
    ],
)
def test_a_malformed_passkey_login_is_a_json_error(api_client, db, body):
    response = post(api_client, PASSKEY_COMPLETE, body)
    assert response.status_code in {400, 401} and response["Content-Type"] == "application/json"
    assert response.json()


@pytest.mark.parametrize("credential", [{}, {"response": {}}, {"id": "x", "response": {"clientDataJSON": "e30"}}, 7])
def test_a_malformed_registration_is_a_json_error(api_client, user, tokens_for, credential):
    response = post(api_client, COMPLETE, {"credential": credential}, tokens_for(user)["access"])
    assert response.status_code == 400 and response["Content-Type"] == "application/json"


def test_the_cleanup_command_purges_expired_challenges_only(api_client, db):
    from django.core.management import call_command

    stale = post(api_client, PASSKEY_BEGIN).json()["challenge_id"]
    live = post(api_client, PASSKEY_BEGIN).json()["challenge_id"]
    WebAuthnChallenge.objects.filter(pk=stale).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("authgate_cleanup", stdout=open(os.devnull, "w"))
    assert list(WebAuthnChallenge.objects.values_list("pk", flat=True)) == [uuid.UUID(live)]


def test_passwordless_login_in_cookie_mode_answers_with_the_cookies(api_client, user, tokens_for):
    authenticator = SoftAuthenticator()
    add_key(api_client, tokens_for(user)["access"], authenticator)
    begin = post(api_client, PASSKEY_BEGIN).json()
    credential = authenticator.get(begin["publicKey"], origin=ORIGIN)
    body = {"challenge_id": begin["challenge_id"], "credential": credential, "cookies": True, "device": "Phone"}
    response = post(api_client, PASSKEY_COMPLETE, body)
    assert response.status_code == 200 and "access" not in response.json()
    assert {"authgate_access", "authgate_refresh", "csrftoken"} <= set(response.cookies)
    assert Session.objects.get(pk=response.json()["session_id"]).device == "Phone"


@pytest.mark.django_db
def test_one_address_can_ask_for_passkey_login_challenges_only_a_bounded_number_of_times_a_minute(api_client):
    from authgate.mfa.webauthn.views import BEGIN_PER_ADDRESS_PER_MINUTE

    before = WebAuthnChallenge.objects.count()
    answers = [post(api_client, PASSKEY_BEGIN) for _ in range(BEGIN_PER_ADDRESS_PER_MINUTE + 5)]
    assert [a.status_code for a in answers].count(200) == BEGIN_PER_ADDRESS_PER_MINUTE
    refused = answers[-1]
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert WebAuthnChallenge.objects.count() - before == BEGIN_PER_ADDRESS_PER_MINUTE
