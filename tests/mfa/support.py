"""Helpers of the second-factor tests: enrol TOTP through the API, real codes from pyotp."""

import time

import pyotp

from ..conftest import PASSWORD, bearer, login

__all__ = ["PASSWORD", "bearer", "login", "enrol_totp", "code_at", "mfa_login", "verify"]


def code_at(secret, steps=0):
    """The real TOTP code of `secret` for the current time step + `steps` (-1, 0 or 1)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def enrol_totp(client, access):
    """Set up and confirm TOTP with a real code (of the previous step, leaving the current
    and next ones usable); returns (secret, recovery codes)."""
    setup = client.post("/api/auth/mfa/totp/", format="json", **bearer(access))
    assert setup.status_code == 200, setup.content
    secret = setup.json()["secret"]
    confirmed = client.post(
        "/api/auth/mfa/totp/confirm/", {"code": code_at(secret, -1)}, format="json", **bearer(access)
    )
    assert confirmed.status_code == 200, confirmed.content
    return secret, confirmed.json()["recovery_codes"]


def mfa_login(client, username="alice", **extra):
    """The first step: returns the 403 body (asserting it is `mfa_required`)."""
    response = login(client, username, **extra)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "mfa_required"
    return body


def verify(client, mfa_token, **proof):
    """POST mfa/verify/ with `mfa_token` and the proof (code=... or credential=...)."""
    return client.post("/api/auth/mfa/verify/", {"mfa_token": mfa_token, **proof}, format="json")
