"""Support and operations: staff remove a user's factors (admin action, management command),
which ends that user's sessions; factor events in the activity trail and the metrics."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from authgate.mfa import providers
from authgate.models import Activity, RecoveryCode, Session

from .support import PASSWORD, bearer, code_at, enrol_totp, login, mfa_login, verify


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def enrolled(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    api_client.secret, _codes = enrol_totp(api_client, access)
    return access


def test_the_command_removes_every_factor_and_ends_the_users_sessions(api_client, user, enrolled):
    out = StringIO()
    call_command("authgate_remove_factors", "alice", stdout=out)
    assert "1 second factor(s) of alice removed; 1 session(s) ended." in out.getvalue()
    assert not providers.has_factor(user) and not RecoveryCode.objects.filter(user=user).exists()
    refused = api_client.get("/api/protected/", **bearer(enrolled))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    assert Session.objects.get().end_reason == "factors_removed"
    assert login(api_client).status_code == 200  # the password alone again
    assert Activity.objects.filter(kind=Activity.MFA_REMOVED, reason="staff", user=user).exists()


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("authgate_remove_factors", "nobody")


def test_staff_remove_factors_from_the_users_list_in_the_admin(api_client, user, enrolled, make_user):
    make_user("root", is_staff=True, is_superuser=True)
    staff = Client()
    assert staff.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}).status_code == 302
    response = staff.post(
        f"/admin/{user._meta.app_label}/{user._meta.model_name}/",
        {"action": "remove_second_factors", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert not providers.has_factor(user)
    assert api_client.get("/api/protected/", **bearer(enrolled)).status_code == 401


def test_the_admin_lists_authenticator_apps_without_their_secret(user, enrolled, make_user):
    make_user("root", is_staff=True, is_superuser=True)
    staff = Client()
    staff.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    page = staff.get("/admin/authgate/totpdevice/")
    assert page.status_code == 200 and "alice" in page.content.decode()
    from authgate.mfa import crypto
    from authgate.mfa.models import TOTPDevice

    secret = crypto.decrypt(TOTPDevice.objects.get().encrypted_secret)
    detail = staff.get(f"/admin/authgate/totpdevice/{TOTPDevice.objects.get().pk}/change/").content.decode()
    assert secret not in detail and TOTPDevice.objects.get().encrypted_secret not in detail


def test_factor_events_are_in_the_trail_and_the_metrics(api_client, user, enrolled):
    pytest.importorskip("prometheus_client")
    from prometheus_client import REGISTRY

    def count(event):
        return REGISTRY.get_sample_value("authgate_mfa_events_total", {"event": event}) or 0

    before = {event: count(event) for event in ("mfa_added", "mfa_failed", "mfa_used")}
    token = mfa_login(api_client)["mfa_token"]
    assert verify(api_client, token, code="000000").status_code == 401
    assert verify(api_client, token, code=code_at(api_client.secret)).status_code == 200
    assert (count("mfa_failed"), count("mfa_used")) == (before["mfa_failed"] + 1, before["mfa_used"] + 1)
    kinds = set(Activity.objects.filter(user=user).values_list("kind", flat=True))
    assert {Activity.MFA_ADDED, Activity.MFA_FAILED, Activity.MFA_USED} <= kinds
