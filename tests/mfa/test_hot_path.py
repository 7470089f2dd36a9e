"""Accounts without a second factor pay (almost) nothing for the feature: a login asks the
factor tables one EXISTS per factor kind, once; a protected GET and a refresh never touch
them (their query counts are pinned in the core query tests)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from authgate.mfa import providers

from .support import bearer, login

FACTOR_TABLES = ("authgate_totpdevice", "authgate_recoverycode", "authgate_pendinglogin", "webauthn")


def factor_queries(captured):
    return [q["sql"] for q in captured.captured_queries if any(t in q["sql"] for t in FACTOR_TABLES)]


def test_a_login_without_a_factor_asks_each_factor_kind_once(api_client, user):
    with CaptureQueriesContext(connection) as captured:
        response = login(api_client)
    assert response.status_code == 200
    asked = factor_queries(captured)
    assert len(asked) == len([p for p in providers.providers() if p.is_factor]), asked
    assert not any("pendinglogin" in sql for sql in asked)


def test_a_protected_get_and_a_refresh_never_touch_the_factor_tables(api_client, user, tokens_for):
    pair = tokens_for(user)
    with CaptureQueriesContext(connection) as captured:
        assert api_client.get("/api/protected/", **bearer(pair["access"])).status_code == 200
        refreshed = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
        assert refreshed.status_code == 200
    assert factor_queries(captured) == []
