"""
The way in without replaced hooks (Ninja, plain views, the async path) calls the default
steps directly: the same answers as through the hooks, on fewer calls. The calls are
counted (a profile hook sees every Python call), never timed.
"""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request

import authgate
from authgate import access, revocation
from authgate.authentication import JWTSessionAuthentication
from authgate.ninja import JWTSessionAuth

from ..conftest import bearer

pytestmark = pytest.mark.django_db

AUTHGATE_SOURCE = str(Path(authgate.__file__).parent)


def authgate_calls(check: Callable[[], Any]) -> tuple[int, Any]:
    """(Python calls made in authgate's own code while `check()` runs, its result)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call" and frame.f_code.co_filename.startswith(AUTHGATE_SOURCE):
            count += 1

    sys.setprofile(profile)
    try:
        result = check()
    finally:
        sys.setprofile(None)
    return count, result


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite bus trusts its cache at once")
def test_the_ninja_check_of_a_cached_session_makes_no_query_and_fewer_calls_than_the_drf_class(user, tokens_for):
    assert revocation.get_store().bus is not None
    request = RequestFactory().get("/api/ninja/protected/", **bearer(tokens_for(user)["access"]))
    ninja, drf = JWTSessionAuth(), JWTSessionAuthentication()
    assert ninja(request).user.pk == user.pk  # the session is cached now
    assert drf.authenticate(Request(request))[0].pk == user.pk
    with CaptureQueriesContext(connection) as queries:
        ninja_calls, result = authgate_calls(lambda: ninja(request))
        drf_calls, (drf_user, _auth) = authgate_calls(lambda: drf.authenticate(Request(request)))
    assert len(queries) == 0
    assert result.user.pk == drf_user.pk == user.pk and request.user.pk == user.pk
    assert ninja_calls < drf_calls, (ninja_calls, drf_calls)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("  Bearer   abc  ", "abc"),
        ("Token abc", None),
        ("Basic dXNlcjpwYXNz", None),
        ("   ", None),
        ("Bearer", access.MalformedHeader),
        ("Bearer a b", access.MalformedHeader),
    ],
)
def test_the_header_is_read_as_the_hooks_read_it(header, expected):
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=header)
    if isinstance(expected, type):
        with pytest.raises(expected):
            access.get_credential(request)
        with pytest.raises(expected):
            access.get_credential(request, JWTSessionAuthentication())
        return
    direct = access.get_credential(request)
    hooked = access.get_credential(request, JWTSessionAuthentication())
    assert (direct and direct.raw) == (hooked and hooked.raw) == expected


def test_the_schemes_follow_the_setting_when_it_changes():
    assert access.get_raw_token("Bearer abc") == "abc"
    with override_settings(AUTHGATE={"AUTH_HEADER_TYPES": ("JWT",)}):
        assert access.get_raw_token("Bearer abc") is None
        assert access.get_raw_token("jwt abc") == "abc"
    assert access.get_raw_token("Bearer abc") == "abc"
    assert access.get_raw_token("JWT abc") is None


def test_refusals_read_the_same_on_the_direct_path_and_through_the_hooks(user, tokens_for, api_client):
    body = tokens_for(user)
    api_client.post("/api/auth/logout/", {"refresh": body["refresh"]}, format="json")
    for header in (f"Bearer {body['access']}", "Bearer not-a-token"):
        request = RequestFactory().get("/", HTTP_AUTHORIZATION=header)
        with pytest.raises(access.AuthenticationFailed) as direct:
            access.authenticate_request(request)
        with pytest.raises(access.AuthenticationFailed) as hooked:
            access.authenticate_request(request, JWTSessionAuthentication())
        assert direct.value.body() == hooked.value.body() and direct.value.status == hooked.value.status
