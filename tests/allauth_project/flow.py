"""
Run as `python -m tests.allauth_project.flow`: allauth's own headless login flow (the app
client) on a project whose token strategy is authgate's. Prints "allauth flow: ok" and
exits 0, or fails with a traceback:

- login answers authgate's access and refresh tokens; the access token opens the project's
  DRF, Ninja and plain routes;
- allauth's refresh rotates them; presenting the spent refresh token again is reuse: the
  session ends, its access token is refused and allauth's session token answers 410;
- allauth's logout ends the authgate session (its access token refused at once);
- authgate's logout ends the allauth session (410);
- a wrong password is allauth's 400, and issues nothing.
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.allauth_project.settings"
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

PASSWORD = "correct-horse-battery-9"
APP = "/_allauth/app/v1"
ROUTES = ["/api/protected/", "/api/ninja/protected/", "/api/plain/protected/"]


def login(client):
    response = client.post(
        f"{APP}/auth/login", {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    meta = response.json()["meta"]
    assert meta["is_authenticated"] is True
    return meta["session_token"], meta["access_token"], meta["refresh_token"]


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def session_status(client, session_token):
    return client.get(f"{APP}/auth/session", HTTP_X_SESSION_TOKEN=session_token).status_code


def refresh(client, refresh_token):
    return client.post(f"{APP}/tokens/refresh", {"refresh_token": refresh_token}, content_type="application/json")


def main():
    call_command("migrate", verbosity=0)
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    client = Client()

    wrong = client.post(f"{APP}/auth/login", {"username": "alice", "password": "nope"}, content_type="application/json")
    assert wrong.status_code == 400, wrong.content
    assert "access_token" not in wrong.json().get("meta", {})

    session_token, access, refresh_token = login(client)
    for route in ROUTES:
        assert client.get(route, **bearer(access)).status_code == 200, route
    assert session_status(client, session_token) == 200

    rotated = refresh(client, refresh_token)
    assert rotated.status_code == 200, rotated.content
    data = rotated.json()["data"]
    new_access, new_refresh = data["access_token"], data["refresh_token"]
    assert new_refresh != refresh_token
    assert client.get(ROUTES[0], **bearer(new_access)).status_code == 200
    reused = refresh(client, refresh_token)
    assert reused.status_code == 400, reused.content
    for token in (access, new_access):
        refused = client.get(ROUTES[0], **bearer(token))
        assert refused.status_code == 401 and refused.json()["reason"] == "revoked", refused.content
    assert refresh(client, new_refresh).status_code == 400
    assert session_status(client, session_token) == 410

    session_token, access, _ = login(client)
    logout = client.delete(f"{APP}/auth/session", HTTP_X_SESSION_TOKEN=session_token)
    assert logout.status_code == 401, logout.content  # allauth's answer to a logout
    for route in ROUTES:
        assert client.get(route, **bearer(access)).status_code == 401, route

    session_token, access, _ = login(client)
    ended = client.post("/api/auth/logout/", {}, content_type="application/json", **bearer(access))
    assert ended.status_code == 200, ended.content
    assert session_status(client, session_token) == 410
    print("allauth flow: ok")


if __name__ == "__main__":
    main()
