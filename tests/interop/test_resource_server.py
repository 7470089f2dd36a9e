"""
End to end across processes: authgate (gunicorn, SQLite file, RS256 keys directory) and
the example Flask resource server (examples/resource_server, gunicorn), on free loopback
ports. A logout at authgate must reach the resource server within its documented delay
(INTROSPECTION_CACHE_SECONDS).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..support.interop import unverified_parts
from ..support.processes import GunicornServer

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-9"
CACHE_SECONDS = 1  # the resource server's introspection cache (its documented delay)
SLACK_SECONDS = 10  # generous room for a loaded machine: a bound for the loop, not a benchmark

SETUP = (
    """
import io, django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("createcachetable")
call_command("rotate_signing_key", algorithm="RS256", stdout=io.StringIO())
get_user_model().objects.create_user("alice", "alice@example.com", %r)
out = io.StringIO()
call_command("create_introspection_token", "resource-server", stdout=out)
print(out.getvalue().strip())
"""
    % PASSWORD
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("interop")
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "server.settings",
            "AUTHGATE_VAR_DIR": str(work),
            "DATABASE_URL": f"sqlite:///{work / 'authgate.sqlite3'}",
            "SECRET_KEY": "interop-test-secret-key-0123456789-abcdefghijklmnop",
            "DEBUG": "0",
            "AUTHGATE_ALGORITHM": "RS256",
            "AUTHGATE_SIGNING_KEYS_DIR": str(work / "keys"),
            "PYTHONPATH": str(ROOT),
        }
    )
    setup = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stderr
    service_key = setup.stdout.strip().splitlines()[-1]

    authgate = GunicornServer(
        "server.wsgi:application", env, workers=1, log_path=work / "authgate.log", health_path="/api/health/"
    )
    resource = GunicornServer(
        "app:create_app()",
        {
            **env,
            "AUTHGATE_URL": authgate.url,
            "AUTHGATE_INTROSPECTION_TOKEN": service_key,
            "INTROSPECTION_CACHE_SECONDS": str(CACHE_SECONDS),
        },
        cwd=ROOT / "examples" / "resource_server",
        workers=1,
        log_path=work / "resource.log",
        health_path="/health",
    )
    try:
        authgate.start()
        resource.start()
        yield {"authgate": authgate.url, "resource": resource.url, "service_key": service_key}
    finally:
        resource.stop()
        authgate.stop()


def _login(stack, device):
    response = httpx.post(
        f"{stack['authgate']}/api/auth/login/",
        json={"username": "alice", "password": PASSWORD, "device": device},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _hello(stack, token):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{stack['resource']}/hello", headers=headers, timeout=10)


def _rejected_within_delay(stack, access):
    """Poll (bounded) until the resource server refuses `access`; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < CACHE_SECONDS + SLACK_SECONDS:
        response = _hello(stack, access)
        if response.status_code == 401:
            assert response.json()["code"] == "token_not_valid"
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        time.sleep(0.1)
    pytest.fail("the resource server still accepts a logged-out token")


def test_logout_at_authgate_is_honoured_by_the_resource_server(stack):
    tokens = _login(stack, "laptop")
    other_device = _login(stack, "phone")
    assert unverified_parts(tokens["access"])[0]["alg"] == "RS256"

    response = _hello(stack, tokens["access"])
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Hello alice, from the resource server!"
    # What the resource server checks by itself, with the JWKS alone.
    assert _hello(stack, tokens["refresh"]).status_code == 401  # wrong type
    assert _hello(stack, "not-a-jwt").status_code == 401
    assert _hello(stack, None).status_code == 401

    logout = httpx.post(
        f"{stack['authgate']}/api/auth/logout/", headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=10
    )
    assert logout.status_code == 200
    _rejected_within_delay(stack, tokens["access"])
    time.sleep(CACHE_SECONDS + 0.2)  # past any cached answer: still refused, for good
    assert _hello(stack, tokens["access"]).status_code == 401
    assert _hello(stack, other_device["access"]).status_code == 200  # the other device stays in


def test_rfc7009_revocation_is_honoured_by_the_resource_server(stack):
    tokens = _login(stack, "tablet")
    assert _hello(stack, tokens["access"]).status_code == 200
    revoke = httpx.post(
        f"{stack['authgate']}/api/auth/revoke/",
        data={"token": tokens["refresh"], "token_type_hint": "refresh_token"},
        timeout=10,
    )
    assert revoke.status_code == 200
    _rejected_within_delay(stack, tokens["access"])
    introspection = httpx.post(
        f"{stack['authgate']}/api/auth/introspect/",
        data={"token": tokens["access"]},
        headers={"Authorization": f"Token {stack['service_key']}"},
        timeout=10,
    )
    assert introspection.json() == {"active": False}
