"""RFC 7662 introspection, RFC 7009 revocation and RFC 8414 metadata, through the API."""

import time
import uuid
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from authgate import sessions, static_tokens, tokens
from authgate.models import Session

from ..conftest import bearer
from ..support.interop import asymmetric, authgate_settings
from ..support.interop import fast_password_hashing  # noqa: F401 (autouse fixture)

INTROSPECT = "/api/auth/introspect/"
REVOKE = "/api/auth/revoke/"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def service_key(make_user):
    """A static token whose user holds `authgate.introspect_token` (what a resource server has)."""
    service = make_user("resource-server")
    permission = Permission.objects.get(codename="introspect_token", content_type__app_label="authgate")
    service.user_permissions.add(permission)
    return static_tokens.create_token(service, name="introspection")[1]


@pytest.fixture
def service_client(service_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {service_key}")
    return client


def _introspect(client, token, **extra):
    return client.post(INTROSPECT, {"token": token, **extra}, format="json")


# -- introspection ---------------------------------------------------------------------------
def test_introspection_requires_the_service_credential(api_client, user, make_user, tokens_for, service_key):
    access = tokens_for(user)["access"]
    response = api_client.post(INTROSPECT, {"token": access}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")

    # A person's own (valid) JWT is not a service credential.
    response = api_client.post(INTROSPECT, {"token": access}, format="json", **bearer(access))
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")

    # A static token without the permission is refused.
    _token, plain_key = static_tokens.create_token(user, name="script")
    response = api_client.post(INTROSPECT, {"token": access}, format="json", HTTP_AUTHORIZATION=f"Token {plain_key}")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")

    # A revoked service token stops working at once.
    response = api_client.post(INTROSPECT, {"token": access}, format="json", HTTP_AUTHORIZATION="Token ag_wrong")
    assert response.status_code == 401
    response = api_client.post(INTROSPECT, {"token": access}, format="json", HTTP_AUTHORIZATION=f"Token {service_key}")
    assert response.status_code == 200 and response.json()["active"] is True


def test_active_access_token_answer(service_client, user, tokens_for):
    body = tokens_for(user)
    response = _introspect(service_client, body["access"], token_type_hint="access_token")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    answer = response.json()
    claims = tokens.get_codec().decode(body["access"], tokens.ACCESS)
    assert answer == {
        "active": True,
        "sub": str(user.pk),
        "username": "alice",
        "sid": uuid.UUID(body["session_id"]).hex,
        "token_type": "access_token",
        "exp": claims.expires_at,
        "iat": claims.issued_at,
        "jti": claims.payload["jti"],
    }


def test_refresh_tokens_are_active_only_while_current(service_client, api_client, user, tokens_for):
    body = tokens_for(user)
    answer = service_client.post(INTROSPECT, urlencode({"token": body["refresh"]}), content_type=FORM).json()
    assert (answer["active"], answer["token_type"]) == (True, "refresh_token")
    api_client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json")
    # Urlencoded body, as RFC 7662 §2.1 sends it.
    response = service_client.post(
        INTROSPECT, f"token={body['refresh']}&token_type_hint=refresh_token", content_type=FORM
    )
    assert response.json() == {"active": False}


def test_revoked_expired_unknown_and_garbage_tokens_are_inactive(
    service_client, api_client, user, make_user, tokens_for, settings
):
    body = tokens_for(user)
    session, _ = sessions.open_session(user)
    Session.objects.filter(pk=session.pk).update(issued_at=int(time.time()) - 3600)
    session.refresh_from_db()
    expired = tokens.get_codec().access_for(session)
    assert api_client.post("/api/auth/logout/", **bearer(body["access"])).status_code == 200

    bob = make_user("bob")
    bob_access = tokens_for(bob)["access"]
    bob.is_active = False
    bob.save()

    hmac_settings = authgate_settings()
    settings.AUTHGATE = asymmetric("EdDSA")  # a token from another key is unknown here
    foreign = tokens_for(make_user("carol"))["access"]
    settings.AUTHGATE = hmac_settings

    for token in [body["access"], body["refresh"], expired, bob_access, foreign, "garbage", "a.b.c", "x" * 5000]:
        response = _introspect(service_client, token)
        assert (response.status_code, response.json()) == (200, {"active": False}), token


def test_introspection_reports_issuer_and_audience_when_set(settings, service_client, user, tokens_for):
    settings.AUTHGATE = asymmetric("RS256", ISSUER="https://auth.example.com", AUDIENCE="api.example.com")
    answer = _introspect(service_client, tokens_for(user)["access"]).json()
    assert (answer["active"], answer["iss"], answer["aud"]) == (True, "https://auth.example.com", "api.example.com")


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": ["a", "b"]}, {"token_type_hint": "access_token"}])
def test_introspection_without_a_token_is_a_validation_error(service_client, body):
    response = service_client.post(INTROSPECT, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["token"]


# -- revocation ------------------------------------------------------------------------------
def test_revoking_an_access_token_ends_its_session_only(api_client, user, tokens_for):
    laptop, phone = tokens_for(user, device="laptop"), tokens_for(user, device="phone")
    response = api_client.post(REVOKE, {"token": laptop["access"], "token_type_hint": "access_token"}, format="json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    response = api_client.get("/api/protected/", **bearer(laptop["access"]))
    assert (response.status_code, response.json()["reason"]) == (401, "revoked")
    assert api_client.post("/api/auth/token/refresh/", {"refresh": laptop["refresh"]}, format="json").status_code == 401
    assert api_client.get("/api/protected/", **bearer(phone["access"])).status_code == 200
    assert Session.objects.get(pk=laptop["session_id"]).end_reason == sessions.LOGOUT


def test_revoking_a_refresh_token_form_encoded_ends_its_session(api_client, user, tokens_for):
    body = tokens_for(user)
    response = api_client.post(REVOKE, f"token={body['refresh']}&token_type_hint=refresh_token", content_type=FORM)
    assert response.status_code == 200
    response = api_client.get("/api/protected/", **bearer(body["access"]))
    assert (response.status_code, response.json()["reason"]) == (401, "revoked")


def test_revocation_answers_200_for_unknown_and_spent_tokens_and_ends_nothing(api_client, user, tokens_for):
    body = tokens_for(user)
    rotated = api_client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json").json()
    for token in ["garbage", "a.b.c", "x" * 5000, body["refresh"]]:  # the last one is spent
        response = api_client.post(REVOKE, {"token": token, "token_type_hint": "whatever"}, format="json")
        assert response.status_code == 200, token
    assert api_client.get("/api/protected/", **bearer(rotated["access"])).status_code == 200
    # Revoking twice is fine too.
    assert api_client.post(REVOKE, {"token": rotated["access"]}, format="json").status_code == 200
    assert api_client.post(REVOKE, {"token": rotated["access"]}, format="json").status_code == 200
    assert api_client.get("/api/protected/", **bearer(rotated["access"])).status_code == 401


def test_revocation_without_a_token_is_a_validation_error(api_client):
    response = api_client.post(REVOKE, {}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["token"])


# -- metadata --------------------------------------------------------------------------------
def test_authorization_server_metadata(api_client, settings):
    response = api_client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == "http://testserver"
    assert document["jwks_uri"] == "http://testserver/api/auth/.well-known/jwks.json"
    assert document["introspection_endpoint"] == "http://testserver/api/auth/introspect/"
    assert document["revocation_endpoint"] == "http://testserver/api/auth/revoke/"
    assert api_client.get(document["jwks_uri"]).status_code == 200

    settings.AUTHGATE = authgate_settings(ISSUER="https://auth.example.com")
    assert api_client.get("/.well-known/oauth-authorization-server").json()["issuer"] == "https://auth.example.com"
