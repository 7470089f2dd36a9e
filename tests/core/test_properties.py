"""
Property tests (hypothesis) for "never a 500 for bad input": malformed tokens —
random text, JWT-shaped junk, and tokens correctly signed with the real key but carrying
claims of any shape — and random JSON bodies always answer a JSON 4xx.
"""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from authgate import sessions

PROFILE = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Claims that pass the signature check but may be of any type or value.
claim_values = {
    "type": st.sampled_from(["access", "refresh", "id", ""]) | json_values,
    "sub": st.sampled_from(["1", "999"]) | json_values,
    "sid": st.uuids().map(lambda u: u.hex) | json_values,
    "gen": st.integers(min_value=-2, max_value=2**70) | json_values,
    "iat": st.integers(min_value=-(2**40), max_value=2**40) | json_values,
    "exp": st.just(int(time.time()) + 3600) | st.integers(min_value=-(2**40), max_value=2**40) | json_values,
    "jti": json_values,
}
signed_claims = st.fixed_dictionaries({}, optional=claim_values).map(
    lambda claims: jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
)
jwt_shaped = st.tuples(
    st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40)),
    st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40)),
    st.binary(max_size=40),
).map(lambda parts: ".".join(b64(p) for p in parts))
malformed_tokens = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=", max_size=300),
    jwt_shaped,
    signed_claims,
)
# What an HTTP header value can carry (latin-1, no line breaks).
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
)


def assert_json_client_error(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and body
    if "code" in body:  # non-validation errors: {detail, code}
        assert isinstance(body["detail"], str)


@pytest.fixture
def live_session(user):
    """A real session, so that random `sid`/`sub` claims sometimes name a live one."""
    return sessions.open_session(user)


def live_claims(session):
    """Correctly signed tokens naming the live session: every claim is usually plausible
    (so the lifecycle, not just the decoder, is reached) and sometimes random junk."""

    def around_now(low, high):  # offsets, not bounds: the strategy must not change with the clock
        return st.integers(low, high).map(lambda offset: int(time.time()) + offset)

    plausible = {
        "type": st.sampled_from(["access", "refresh"]),
        "sub": st.just(str(session.user_id)),
        "sid": st.just(session.id.hex),
        "gen": st.integers(min_value=0, max_value=3),
        "iat": around_now(-1000, 1000),
        "exp": around_now(-100, 1000),
    }

    def mostly(value, junk):  # junk one time in ten
        return st.integers(0, 9).flatmap(lambda n: junk if n == 0 else value)

    claims = st.fixed_dictionaries({name: mostly(value, claim_values[name]) for name, value in plausible.items()})
    return claims.map(lambda c: jwt.encode(c, settings.SECRET_KEY, algorithm="HS256"))


@hypothesis_settings(PROFILE, max_examples=120)
@given(data=st.data())
def test_malformed_tokens_never_give_a_500(live_session, data):
    session, _ = live_session
    token = data.draw(
        st.booleans().flatmap(lambda live: live_claims(session) if live else malformed_tokens), label="token"
    )
    client = APIClient()
    for response in (
        client.get("/api/protected/", HTTP_AUTHORIZATION=f"Bearer {token}"),
        client.post("/api/auth/token/refresh/", {"refresh": token}, format="json"),
        client.post("/api/auth/token/verify/", {"token": token}, format="json"),
        client.post("/api/auth/logout/", {"refresh": token}, format="json"),
    ):
        if response.status_code == 200:
            # Only a token signed with the real key and naming the live session can pass.
            assert token.count(".") == 2
            event("200")
            continue
        assert_json_client_error(response)
        event(f"{response.status_code} {response.json().get('reason', '')}")  # --hypothesis-show-statistics


@PROFILE
@given(header=header_text)
def test_random_authorization_headers_never_give_a_500(db, header):
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=header)
    assert_json_client_error(response)


ENDPOINTS = [
    "/api/auth/login/",
    "/api/auth/register/",
    "/api/auth/token/refresh/",
    "/api/auth/token/verify/",
    "/api/auth/logout/",
    "/api/auth/tokens/",
]
login_like = st.fixed_dictionaries(
    {},
    optional={
        "username": json_values,
        "password": json_values,
        "email": json_values,
        "refresh": json_values,
        "refresh_token": json_values,
        "token": json_values,
        "device": json_values,
        "cookies": json_values,
        "name": json_values,
        "expires_in": json_values,
    },
)


@PROFILE
@given(path=st.sampled_from(ENDPOINTS), body=json_values | login_like)
def test_random_json_bodies_never_give_a_500(db, path, body):
    response = APIClient().post(path, json.dumps(body), content_type="application/json")
    if response.status_code in (200, 201):
        return  # e.g. register with a valid random body
    assert_json_client_error(response)


@PROFILE
@given(
    path=st.sampled_from(ENDPOINTS),
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
)
def test_random_raw_bodies_never_give_a_500(db, path, raw, content_type):
    response = APIClient().post(path, raw, content_type=content_type)
    assert_json_client_error(response)
