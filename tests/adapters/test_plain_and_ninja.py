"""
Plain Django views and Django Ninja behind authgate's sessions, sync and async: the same
answers as the DRF route — a live token passes, a missing one is `not_authenticated`, a bad
or ended one is `token_not_valid` with its reason and `WWW-Authenticate: Bearer`, and a
cookie needs the CSRF proof on unsafe methods.
"""

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from ..conftest import bearer

ROUTES = [
    "/api/protected/",
    "/api/plain/protected/",
    "/api/plain/async/protected/",
    "/api/ninja/protected/",
    "/api/ninja/async/protected/",
]

pytestmark = pytest.mark.django_db


def get_sync(path, **headers):
    return Client().get(path, **headers)


def get_async(path, **meta):
    # AsyncClient takes headers by their HTTP names.
    headers = {key.removeprefix("HTTP_").replace("_", "-"): value for key, value in meta.items()}
    return async_to_sync(AsyncClient().get)(path, headers=headers)


@pytest.fixture(params=["sync client", "async client"])
def get(request):
    return get_sync if request.param == "sync client" else get_async


def assert_refused(response, code="token_not_valid", reason=None):
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    body = response.json()
    assert body["code"] == code
    assert body.get("reason") == reason
    assert body["detail"]
    return body


@pytest.mark.parametrize("path", ROUTES)
def test_a_live_token_is_accepted_on_every_route(path, get, user, tokens_for):
    response = get(path, **bearer(tokens_for(user)["access"]))
    assert response.status_code == 200, response.content
    assert response.json() == {"message": "Hello alice, you have accessed a protected route!"}


@pytest.mark.parametrize("path", ROUTES)
def test_a_logged_out_token_is_refused_on_the_next_request_on_every_route(path, get, user, tokens_for, api_client):
    access = tokens_for(user)["access"]
    assert get(path, **bearer(access)).status_code == 200
    assert api_client.post("/api/auth/logout/", **bearer(access)).status_code == 200
    assert_refused(get(path, **bearer(access)), reason="revoked")


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_refuses_the_same_way(path, get, user, tokens_for):
    drf = {
        "missing": assert_refused(get_sync(ROUTES[0]), code="not_authenticated"),
        "malformed": assert_refused(get_sync(ROUTES[0], **bearer("not.a.token")), reason="malformed"),
        "two words": assert_refused(get_sync(ROUTES[0], HTTP_AUTHORIZATION="Bearer a b"), reason="malformed"),
    }
    assert assert_refused(get(path), code="not_authenticated") == drf["missing"]
    assert assert_refused(get(path, **bearer("not.a.token")), reason="malformed") == drf["malformed"]
    assert assert_refused(get(path, HTTP_AUTHORIZATION="Bearer a b"), reason="malformed") == drf["two words"]


@pytest.mark.parametrize("path", ROUTES[1:])
def test_a_deactivated_user_is_refused_on_every_route(path, get, user, tokens_for):
    access = tokens_for(user)["access"]
    assert get(path, **bearer(access)).status_code == 200
    user.is_active = False
    user.save()
    assert get(path, **bearer(access)).status_code == 401


@pytest.mark.parametrize("path", ROUTES[1:])
def test_the_access_cookie_works_and_unsafe_methods_need_the_csrf_token(path, user):
    browser = Client(enforce_csrf_checks=True)
    login = browser.post(
        "/api/auth/login/",
        {"username": "alice", "password": "correct-horse-battery-9", "cookies": True},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    assert browser.get(path).status_code == 200
    refused = browser.post(path)
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["detail"]
    allowed = browser.post(path, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert allowed.status_code == 200, allowed.content


@pytest.mark.parametrize("path", ROUTES[1:])
def test_a_bearer_token_needs_no_csrf_token_on_unsafe_methods(path, user, tokens_for):
    response = Client(enforce_csrf_checks=True).post(path, **bearer(tokens_for(user)["access"]))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ROUTES[1:])
def test_a_token_in_the_query_string_is_not_read(path, user, tokens_for):
    assert_refused(get_sync(f"{path}?token={tokens_for(user)['access']}"), code="not_authenticated")


@override_settings(
    AUTHGATE={"AUTHENTICATED_PATH_PREFIXES": ["/api/ninja/public/"]},
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "authgate.plain.JWTAuthenticationMiddleware",
    ],
)
def test_the_middleware_protects_a_whole_prefix_and_sets_request_user(get, user, tokens_for):
    access = tokens_for(user)["access"]
    assert_refused(get("/api/ninja/public/"), code="not_authenticated")
    assert_refused(get("/api/ninja/public/", **bearer("x.y.z")), reason="malformed")
    assert get("/api/ninja/public/", **bearer(access)).status_code == 200
    assert get("/api/public/").status_code == 200  # outside the prefix: untouched
