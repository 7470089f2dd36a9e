"""
Run as `python -m tests.allauth_project.gate_flow`: allauth's headless login is one more
way in, and it honours authgate's rules. Prints "allauth gate: ok" and exits 0, or fails
with a traceback:

- an account with one of authgate's second factors (TOTP, enrolled through authgate's API)
  gets no authgate pair from allauth's password login, and no session opens;
- with REQUIRE_EMAIL_VERIFICATION, an account whose address neither authgate nor allauth
  has verified gets no pair; verified by allauth (its EmailAddress) or by authgate, it does.
"""

import os
import time

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.allauth_project.settings"
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

import pyotp  # noqa: E402
from allauth.account.models import EmailAddress  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from authgate import recovery  # noqa: E402
from authgate.models import Session  # noqa: E402

from .flow import APP, PASSWORD, bearer  # noqa: E402


def allauth_login(username):
    response = Client().post(
        f"{APP}/auth/login", {"username": username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]


def enrol_totp(username):
    client = Client()
    login = client.post(
        "/api/auth/login/", {"username": username, "password": PASSWORD}, content_type="application/json"
    )
    assert login.status_code == 200, login.content
    access = login.json()["access"]
    setup = client.post("/api/auth/mfa/totp/", content_type="application/json", **bearer(access))
    assert setup.status_code == 200, setup.content
    code = pyotp.TOTP(setup.json()["secret"]).at(time.time() - 30)
    confirmed = client.post(
        "/api/auth/mfa/totp/confirm/", {"code": code}, content_type="application/json", **bearer(access)
    )
    assert confirmed.status_code == 200, confirmed.content


def main():
    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    carol = users.create_user("carol", "carol@example.com", PASSWORD)
    enrol_totp("carol")
    sessions_before = Session.objects.filter(user=carol).count()
    meta = allauth_login("carol")
    assert "access_token" not in meta and "refresh_token" not in meta, meta
    assert Session.objects.filter(user=carol).count() == sessions_before

    dave = users.create_user("dave", "dave@example.com", PASSWORD)
    with override_settings(AUTHGATE={"REQUIRE_EMAIL_VERIFICATION": True}):
        meta = allauth_login("dave")
        assert "access_token" not in meta, meta
        assert not Session.objects.filter(user=dave).exists()
        EmailAddress.objects.create(user=dave, email="dave@example.com", verified=True, primary=True)
        assert Client().get("/api/protected/", **bearer(allauth_login("dave")["access_token"])).status_code == 200

        erin = users.create_user("erin", "erin@example.com", PASSWORD)
        recovery.mark_verified(erin)
        assert Client().get("/api/protected/", **bearer(allauth_login("erin")["access_token"])).status_code == 200
    print("allauth gate: ok")


if __name__ == "__main__":
    main()
