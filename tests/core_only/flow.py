"""
Run as `python -m tests.core_only.flow`: with the extras' packages made unimportable and
the documented minimal settings, authgate passes register -> login -> protected ->
logout -> 401, and `manage.py check` reports what to install for a setting that needs an
extra. Prints "core-only flow: ok" and exits 0, or fails with a traceback.
"""

import os
import sys

from tests.core_only import blocker

blocker.install()
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.core_only.settings"
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.core import checks  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


def main():
    call_command("migrate", verbosity=0)
    client = APIClient()
    password = "correct-horse-battery-9"
    registered = client.post(
        "/api/auth/register/", {"username": "alice", "email": "alice@example.com", "password": password}, format="json"
    )
    assert registered.status_code == 201, registered.content
    login = client.post("/api/auth/login/", {"username": "alice", "password": password}, format="json")
    assert login.status_code == 200, login.content
    access = login.json()["access"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    protected = client.get("/api/protected/", **auth)
    assert protected.status_code == 200 and protected.json() == {"user": "alice"}, protected.content
    assert client.post("/api/auth/logout/", **auth).status_code == 200
    after = client.get("/api/protected/", **auth)
    assert after.status_code == 401, after.content
    assert after.json()["detail"], after.content  # the project's own error shape (its EXCEPTION_HANDLER)

    # A setting that needs an extra says what to install.
    assert [m.id for m in checks.run_checks() if m.level >= checks.ERROR] == []
    with override_settings(AUTHGATE={"REDIS_URL": "redis://127.0.0.1:6379/0"}):
        errors = [m for m in checks.run_checks() if m.id == "authgate.E001"]
    assert len(errors) == 1 and errors[0].hint == "pip install 'authgate[redis]'", errors

    leaked = sorted(name for name in sys.modules if name.split(".")[0] in blocker.BLOCKED)
    assert not leaked, leaked
    print("core-only flow: ok")


if __name__ == "__main__":
    main()
