"""
The service runs Django's sessions, session authentication and messages for the admin and
the account page only: an API route gets no session and no message storage (it
authenticates with tokens), the admin still logs in with its session and shows messages.
(Cookie mode's CSRF check on the API: tests/test_cookie_mode.py.)
"""

import pytest
from django.test import Client

from ..conftest import PASSWORD, bearer, login

pytestmark = pytest.mark.portable


def test_an_api_route_gets_no_session_and_no_messages(api_client, user):
    pair = login(api_client).json()
    for path, headers in (("/api/public/", {}), ("/api/protected/", bearer(pair["access"]))):
        response = api_client.get(path, **headers)
        assert response.status_code == 200
        request = response.wsgi_request
        assert not hasattr(request, "session") and not hasattr(request, "_messages")
        assert "sessionid" not in response.cookies


def test_the_admin_still_logs_in_with_a_session_and_shows_messages(make_user):
    staff = make_user("staffer", is_staff=True, is_superuser=True)
    client = Client()
    page = client.get("/admin/login/")
    assert page.status_code == 200 and hasattr(page.wsgi_request, "session")
    response = client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302 and "sessionid" in response.cookies
    index = client.get("/admin/")
    assert index.status_code == 200 and index.wsgi_request.user == staff
    assert hasattr(index.wsgi_request, "_messages")
    # The session that logs into the admin does not authenticate the API.
    assert client.get("/api/protected/").status_code == 401
