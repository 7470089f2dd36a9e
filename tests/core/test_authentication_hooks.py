"""
`JWTSessionAuthentication`'s hooks, as simplejwt's: a subclass overrides `get_header`,
`get_raw_token`, `get_validated_token` or `get_user`, and the rest of the check (the cookie
fallback, the error answers, the session cache) is unchanged. The default class answers a
cached session with no query.
"""

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from authgate import access, revocation
from authgate.authentication import JWTSessionAuthentication
from authgate.sessions import AccessContext

from ..conftest import bearer

factory = APIRequestFactory()


def view_with(authentication_class: type) -> Any:
    class Protected(APIView):
        authentication_classes = [authentication_class]
        permission_classes = [IsAuthenticated]

        def get(self, request):
            return Response({"user": request.user.get_username(), "session": request.auth.session_id})

    return Protected.as_view()


def call(authentication_class: type, **headers: str) -> Response:
    response = view_with(authentication_class)(factory.get("/hooked/", **headers))
    response.render()
    return response


class FromOwnHeader(JWTSessionAuthentication):
    def get_header(self, request):
        token = request.META.get("HTTP_X_ACCESS_TOKEN")
        return f"Bearer {token}" if token else None


class JWTScheme(JWTSessionAuthentication):
    def get_raw_token(self, header):
        scheme, _sep, token = header.partition(" ")
        return token if scheme == "JWT" else None


class OnlyMFASessions(JWTSessionAuthentication):
    def get_validated_token(self, raw_token):
        validated = super().get_validated_token(raw_token)
        if "otp" not in validated.claims.payload.get("amr", []):
            raise access.AuthenticationFailed("mfa_required", "This API needs a second factor.")
        return validated


class NoStaff(JWTSessionAuthentication):
    seen: list[AccessContext] = []

    def get_user(self, validated_token):
        self.seen.append(validated_token)
        user = super().get_user(validated_token)
        if user.is_staff:
            raise access.AuthenticationFailed("staff_refused", "Staff use the admin.")
        return user


def test_the_default_hooks_answer_as_before(user, tokens_for):
    body = tokens_for(user)
    response = call(JWTSessionAuthentication, **bearer(body["access"]))
    assert response.status_code == 200
    assert response.data == {"user": user.get_username(), "session": uuid.UUID(body["session_id"]).hex}


def test_get_header_reads_another_header(user, tokens_for):
    access_token = tokens_for(user)["access"]
    assert call(FromOwnHeader, HTTP_X_ACCESS_TOKEN=access_token).status_code == 200
    # The Authorization header is no longer read; without the own header, nothing is presented.
    response = call(FromOwnHeader, **bearer(access_token))
    assert (response.status_code, response.data["code"]) == (401, "not_authenticated")


def test_get_raw_token_takes_another_scheme_and_leaves_the_others(user, tokens_for):
    access_token = tokens_for(user)["access"]
    assert call(JWTScheme, HTTP_AUTHORIZATION=f"JWT {access_token}").status_code == 200
    response = call(JWTScheme, **bearer(access_token))  # not its scheme: not its to answer
    assert (response.status_code, response.data["code"]) == (401, "not_authenticated")


def test_get_validated_token_refuses_with_the_error_contract(user, tokens_for):
    response = call(OnlyMFASessions, **bearer(tokens_for(user)["access"]))
    assert response.status_code == 401
    assert response.data == {
        "detail": "This API needs a second factor.",
        "code": "token_not_valid",
        "reason": "mfa_required",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_get_user_sees_the_validated_token_and_can_refuse(user, staff_user, tokens_for):
    NoStaff.seen.clear()
    body = tokens_for(user)
    assert call(NoStaff, **bearer(body["access"])).status_code == 200
    assert [context.session_id for context in NoStaff.seen] == [uuid.UUID(body["session_id"]).hex]
    response = call(NoStaff, **bearer(tokens_for(staff_user)["access"]))
    assert (response.status_code, response.data["reason"]) == (401, "staff_refused")


def test_an_expired_or_revoked_token_is_still_refused_through_the_hooks(user, tokens_for, api_client):
    body = tokens_for(user)
    api_client.post("/api/auth/logout/", {"refresh": body["refresh"]}, format="json")
    for hooked in (JWTSessionAuthentication, NoStaff):
        response = call(hooked, **bearer(body["access"]))
        assert (response.status_code, response.data["reason"]) == (401, "revoked")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite bus trusts its cache at once")
def test_a_cached_session_is_answered_with_no_query_through_the_hooks(user, tokens_for):
    assert revocation.get_store().bus is not None
    access_token = tokens_for(user)["access"]
    assert call(JWTSessionAuthentication, **bearer(access_token)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert call(JWTSessionAuthentication, **bearer(access_token)).status_code == 200
    assert len(queries) == 0
