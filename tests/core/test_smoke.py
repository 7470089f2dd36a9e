"""The seed flow (register, login, protected, refresh, logout), end to end through the API."""

import pytest

from ..conftest import bearer, login

pytestmark = pytest.mark.portable


def test_seed_flow(api_client, user, make_user):
    first = login(api_client, device="laptop").json()
    assert api_client.get("/api/protected/", **bearer(first["access"])).status_code == 200
    rotated = api_client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    second_device = login(api_client, device="phone").json()
    assert api_client.post("/api/auth/logout/", **bearer(rotated["access"])).status_code == 200
    response = api_client.get("/api/protected/", **bearer(rotated["access"]))
    assert response.status_code == 401
    assert response.json()["reason"] == "revoked"
    assert api_client.get("/api/protected/", **bearer(second_device["access"])).status_code == 200
