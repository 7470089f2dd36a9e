"""
Instant logout by every credential form — Bearer access token, `refresh` or
`refresh_token` in the body, static `Token` — while a second device stays signed in; the
logout rows of the error table; and logout everywhere.
"""

import pytest

from authgate.models import Session, StaticToken

from ..conftest import bearer

pytestmark = pytest.mark.portable

PROTECTED = "/api/protected/"
LOGOUT = "/api/auth/logout/"
REFRESH = "/api/auth/token/refresh/"


def assert_revoked(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == "revoked"


def assert_signed_in(client, device):
    assert client.get(PROTECTED, **bearer(device["access"])).status_code == 200


@pytest.fixture
def two_devices(user, tokens_for):
    return tokens_for(user, device="laptop"), tokens_for(user, device="phone")


LOGOUT_FORMS = {
    "bearer": lambda device: {"data": None, "headers": bearer(device["access"])},
    "body-refresh": lambda device: {"data": {"refresh": device["refresh"]}, "headers": {}},
    "body-refresh_token": lambda device: {"data": {"refresh_token": device["refresh"]}, "headers": {}},
}


@pytest.mark.parametrize("form", LOGOUT_FORMS)
def test_logout_ends_that_session_at_once_and_only_that_one(api_client, two_devices, form):
    laptop, phone = two_devices
    request = LOGOUT_FORMS[form](laptop)
    response = api_client.post(LOGOUT, request["data"], format="json", **request["headers"])
    assert response.status_code == 200
    assert response.json() == {"detail": "Successfully logged out."}
    # The very next request with any token of that login is refused...
    assert_revoked(api_client.get(PROTECTED, **bearer(laptop["access"])))
    assert_revoked(api_client.post(REFRESH, {"refresh": laptop["refresh"]}, format="json"))
    assert Session.objects.get(device="laptop").end_reason == "logout"
    # ...and the other device is still signed in, refresh included.
    assert_signed_in(api_client, phone)
    assert api_client.post(REFRESH, {"refresh": phone["refresh"]}, format="json").status_code == 200


def test_logout_with_a_static_token_deletes_that_token_only(api_client, two_devices):
    laptop, phone = two_devices
    created = api_client.post("/api/auth/tokens/", {"name": "script"}, format="json", **bearer(laptop["access"]))
    assert created.status_code == 201
    key = created.json()["token"]
    other = api_client.post("/api/auth/tokens/", {"name": "other"}, format="json", **bearer(laptop["access"]))
    static = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert api_client.get(PROTECTED, **static).status_code == 200

    response = api_client.post(LOGOUT, **static)
    assert response.status_code == 200
    assert response.json() == {"detail": "Successfully logged out."}
    refused = api_client.get(PROTECTED, **static)
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"
    assert list(StaticToken.objects.values_list("name", flat=True)) == ["other"]
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {other.json()['token']}").status_code == 200
    assert_signed_in(api_client, laptop)
    assert_signed_in(api_client, phone)


def test_logout_with_a_spent_refresh_token_ends_nothing_even_with_a_valid_bearer(api_client, two_devices):
    laptop, _ = two_devices
    rotated = api_client.post(REFRESH, {"refresh": laptop["refresh"]}, format="json").json()
    response = api_client.post(LOGOUT, {"refresh": laptop["refresh"]}, format="json", **bearer(rotated["access"]))
    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"
    # Nothing was ended: neither by the spent token (no reuse punishment on logout) nor by the Bearer.
    assert_signed_in(api_client, rotated)
    assert Session.objects.filter(ended_at__isnull=False).count() == 0


@pytest.mark.parametrize("field", ["refresh", "refresh_token"])
def test_logout_with_an_invalid_refresh_token_is_400(api_client, two_devices, field):
    laptop, _ = two_devices
    response = api_client.post(LOGOUT, {field: "not-a-token"}, format="json", **bearer(laptop["access"]))
    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"
    assert_signed_in(api_client, laptop)
    # An access token where the refresh token belongs is not a refresh token either.
    response = api_client.post(LOGOUT, {field: laptop["access"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"
    assert_signed_in(api_client, laptop)


def test_logout_twice_with_the_same_refresh_token_is_400(api_client, two_devices):
    laptop, _ = two_devices
    assert api_client.post(LOGOUT, {"refresh": laptop["refresh"]}, format="json").status_code == 200
    response = api_client.post(LOGOUT, {"refresh": laptop["refresh"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"


def test_logout_with_no_credential_is_refresh_required(api_client, db):
    for body in (None, {}):
        response = api_client.post(LOGOUT, body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "refresh_required"
        assert response.json()["detail"]


def test_logout_with_a_revoked_bearer_is_401(api_client, two_devices):
    """A dead access token alone is not "no credential"; it is refused as on any route."""
    laptop, _ = two_devices
    assert api_client.post(LOGOUT, **bearer(laptop["access"])).status_code == 200
    assert_revoked(api_client.post(LOGOUT, **bearer(laptop["access"])))


def test_logout_all_ends_every_session_of_the_user_only(api_client, make_user, tokens_for):
    alice = make_user("alice")
    bob = make_user("bob")
    alice_devices = [tokens_for(alice, device=name) for name in ("laptop", "phone", "tablet")]
    bobs = tokens_for(bob)
    response = api_client.post("/api/auth/logout/all/", **bearer(alice_devices[0]["access"]))
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 3
    assert response.json()["detail"]
    for device in alice_devices:
        assert_revoked(api_client.get(PROTECTED, **bearer(device["access"])))
        assert_revoked(api_client.post(REFRESH, {"refresh": device["refresh"]}, format="json"))
    assert_signed_in(api_client, bobs)


def test_logout_all_needs_authentication(api_client, db):
    response = api_client.post("/api/auth/logout/all/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
