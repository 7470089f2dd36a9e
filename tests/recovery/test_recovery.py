"""
Account recovery and verification through the API, with mail over real SMTP (an aiosmtpd
server on loopback, tests/support/smtp.py): password reset and its link, email
verification, resend, email change, account deletion and REQUIRE_EMAIL_VERIFICATION.

Enumeration, throttling and timing of these endpoints: tests/security/test_recovery.py.
"""

from datetime import datetime, timedelta
from html import escape
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client, override_settings

from authgate import recovery
from authgate.mail import outbox

from ..conftest import PASSWORD, bearer, login
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.portable

NEW_PASSWORD = "Brand-new-passphrase-42"


def reset(client, email, **extra):
    return client.post("/api/auth/password/reset/", {"email": email}, format="json", **extra)


def confirm(client, link, new_password=NEW_PASSWORD):
    return client.post("/api/auth/password/reset/confirm/", {**link, "new_password": new_password}, format="json")


def verify(client, link):
    return client.post("/api/auth/email/verify/", link, format="json")


def me(client, access):
    return client.get("/api/auth/me/", **bearer(access))


def assert_invalid_link(response):
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "This link is invalid or has expired. Ask for a new one.",
        "code": "invalid_link",
    }


# -- password reset ------------------------------------------------------------------------
def test_reset_mail_link_sets_the_password_once_and_ends_every_session(api_client, user, tokens_for, smtp):
    laptop, phone = tokens_for(user), tokens_for(user)
    static = api_client.post("/api/auth/tokens/", {"name": "script"}, format="json", **bearer(laptop["access"]))

    response = reset(api_client, "ALICE@example.com")  # any case of the address
    assert response.status_code == 202
    assert response.json() == {
        "detail": "If an active account has this email address, a link to reset its password is on its way."
    }
    [message] = smtp.wait_for("alice@example.com")
    assert message.subject == "Reset your password on testserver"
    url = urlparse(message.link)
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", "/")  # the account page
    assert parse_qs(url.query)["action"] == ["reset-password"]
    assert escape(message.link) in message.html  # the HTML part carries the same link
    link = message.uid_and_token

    response = confirm(api_client, link)
    assert response.status_code == 200, response.content
    assert response.json() == {"detail": "Your password has been reset. Sign in with the new one.", "sessions_ended": 2}
    # Every old token of the user is refused on the very next request.
    for tokens in (laptop, phone):
        answer = api_client.get("/api/protected/", **bearer(tokens["access"]))
        assert answer.status_code == 401 and answer.json()["reason"] == "revoked"
        answer = api_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
        assert answer.status_code == 401
    assert login(api_client, "alice", PASSWORD).status_code == 401
    assert login(api_client, "alice", NEW_PASSWORD).status_code == 200
    # Single use: the link died with the old password.
    assert_invalid_link(confirm(api_client, link, "Another-new-passphrase-43"))
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # Static tokens are API keys of scripts, not sessions: they stay (documented).
    assert api_client.get("/api/protected/", HTTP_AUTHORIZATION=f"Token {static.json()['token']}").status_code == 200


def test_a_weak_new_password_is_a_field_error_that_leaves_the_link_usable(api_client, user, smtp):
    reset(api_client, user.email)
    link = smtp.wait_for(user.email)[0].uid_and_token
    for weak in ("short", "password123", "alice-example", "12345678901"):
        response = confirm(api_client, link, weak)
        assert response.status_code == 400
        assert set(response.json()) == {"new_password"}
    assert confirm(api_client, link).status_code == 200


def test_reset_links_that_are_tampered_expired_or_for_another_user_are_invalid(api_client, make_user, smtp):
    alice, bob = make_user("alice"), make_user("bob")
    reset(api_client, alice.email)
    link = smtp.wait_for(alice.email)[0].uid_and_token
    old = PasswordResetTokenGenerator()
    old._now = lambda: datetime.now() - timedelta(seconds=3 * 86400 + 60)  # past PASSWORD_RESET_TIMEOUT
    for bad in (
        {**link, "token": link["token"][:-1] + ("a" if link["token"][-1] != "a" else "b")},
        {**link, "uid": recovery.encode_uid(bob)},  # alice's token, bob's uid
        {**link, "token": old.make_token(alice)},
        {"uid": "!!!", "token": link["token"]},
        {"uid": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "token": link["token"]},  # a pk beyond any integer column
        {"uid": "", "token": ""},
    ):
        response = confirm(api_client, bad)
        assert response.status_code == 400, bad
        if bad["uid"]:
            assert_invalid_link(response)
    assert confirm(api_client, link).status_code == 200


def test_a_reset_link_dies_when_the_account_is_deactivated(api_client, user, smtp):
    reset(api_client, user.email)
    link = smtp.wait_for(user.email)[0].uid_and_token
    user.is_active = False
    user.save()
    assert_invalid_link(confirm(api_client, link))


# -- email verification --------------------------------------------------------------------
def register(client, username="carol", email="carol@example.com", password=PASSWORD):
    response = client.post(
        "/api/auth/register/", {"username": username, "email": email, "password": password}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_registration_mails_a_link_that_verifies_the_address_once(api_client, db, smtp):
    register(api_client)
    access = login(api_client, "carol").json()["access"]
    assert me(api_client, access).json()["email_verified"] is False
    [message] = smtp.wait_for("carol@example.com")
    assert message.subject == "Confirm your email address on testserver"
    assert parse_qs(urlparse(message.link).query)["action"] == ["verify-email"]

    response = verify(api_client, message.uid_and_token)
    assert response.status_code == 200
    assert response.json() == {"detail": "Your email address is verified."}
    assert me(api_client, access).json()["email_verified"] is True
    assert_invalid_link(verify(api_client, message.uid_and_token))  # used
    # A reset link is not a verification link, nor the reverse (separately salted).
    assert_invalid_link(confirm(api_client, message.uid_and_token))


def test_a_verification_link_dies_when_the_address_changes(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    assert api_client.post("/api/auth/email/verify/resend/", **bearer(access)).status_code == 202
    link = smtp.wait_for(user.email)[0].uid_and_token
    response = api_client.patch(
        "/api/auth/me/", {"email": "alice@elsewhere.example", "password": PASSWORD}, format="json", **bearer(access)
    )
    assert response.status_code == 200
    assert verify(api_client, smtp.wait_for("alice@elsewhere.example")[0].uid_and_token).status_code == 200
    assert_invalid_link(verify(api_client, link))
    assert me(api_client, access).json()["email"] == "alice@elsewhere.example"


def test_resend_mails_a_new_link_and_says_when_there_is_nothing_to_verify(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    assert api_client.post("/api/auth/email/verify/resend/").status_code == 401
    response = api_client.post("/api/auth/email/verify/resend/", **bearer(access))
    assert response.status_code == 202
    assert response.json() == {"detail": "A new verification link is on its way."}
    assert verify(api_client, smtp.wait_for(user.email)[0].uid_and_token).status_code == 200
    response = api_client.post("/api/auth/email/verify/resend/", **bearer(access))
    assert response.status_code == 202
    assert response.json() == {"detail": "Your email address is already verified."}
    outbox.flush()
    assert len(smtp.to(user.email)) == 1


def test_a_reset_link_also_proves_the_address(api_client, user, tokens_for, smtp):
    reset(api_client, user.email)
    assert confirm(api_client, smtp.wait_for(user.email)[0].uid_and_token).status_code == 200
    access = tokens_for(user, NEW_PASSWORD)["access"]
    assert me(api_client, access).json()["email_verified"] is True


def test_changing_the_address_outside_the_api_unverifies_it(api_client, user, tokens_for):
    """As the Django admin does it: a save() of the user."""
    recovery.mark_verified(user)
    access = tokens_for(user)["access"]
    assert me(api_client, access).json()["email_verified"] is True
    user.email = "ALICE@example.com"  # the same address
    user.save()
    assert me(api_client, access).json()["email_verified"] is True
    user.email = "other@example.com"
    user.save()
    assert me(api_client, access).json()["email_verified"] is False
    assert not recovery.is_email_verified(get_user_model().objects.get(pk=user.pk))


# -- email change --------------------------------------------------------------------------
def test_email_change_needs_the_password_and_a_free_address(api_client, make_user, tokens_for, smtp):
    alice = make_user("alice")
    make_user("bob")
    recovery.mark_verified(alice)
    access = tokens_for(alice)["access"]
    change = lambda body: api_client.patch("/api/auth/me/", body, format="json", **bearer(access))  # noqa: E731
    response = change({"email": "new@example.com", "password": "wrong-password"})
    assert response.status_code == 400 and set(response.json()) == {"password"}
    response = change({"email": "BOB@example.com", "password": PASSWORD})
    assert response.status_code == 400 and set(response.json()) == {"email"}
    assert set(change({"email": "new@example.com"}).json()) == {"password"}
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"

    response = change({"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 200
    # Pending until its link is used: the account keeps its verified address meanwhile.
    assert response.json()["email"] == "alice@example.com"
    assert response.json()["pending_email"] == "new@example.com"
    assert response.json()["email_verified"] is True
    [message] = smtp.wait_for("new@example.com")
    assert login(api_client, "new@example.com").status_code == 401
    response = verify(api_client, message.uid_and_token)
    assert response.status_code == 200
    assert response.json() == {"detail": "Your email address is changed and verified."}
    body = me(api_client, access).json()
    assert (body["email"], body["pending_email"], body["email_verified"]) == ("new@example.com", "", True)
    # The previous address is told, with no verification link (only the session list): a
    # change by someone else gets noticed.
    [notice] = smtp.wait_for("alice@example.com")
    assert notice.subject == "Your email address on testserver was changed"
    assert "from alice@example.com to new@example.com" in notice.text
    assert notice.link == "http://testserver/#sessions-title" and "token=" not in notice.text
    assert_invalid_link(verify(api_client, message.uid_and_token))  # used
    # The old address logs in no more; the new one does.
    assert login(api_client, "alice@example.com").status_code == 401
    assert login(api_client, "new@example.com").status_code == 200


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_a_wrong_password_on_email_change_or_deletion_counts_as_a_failed_login(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    api_client.patch(
        "/api/auth/me/", {"email": "x@example.com", "password": "wrong-1"}, format="json", **bearer(access)
    )
    api_client.delete("/api/auth/me/", {"password": "wrong-2"}, format="json", **bearer(access))
    response = api_client.delete("/api/auth/me/", {"password": PASSWORD}, format="json", **bearer(access))
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert get_user_model().objects.filter(pk=user.pk).exists()


# -- account deletion ----------------------------------------------------------------------
def test_deleting_the_account_ends_every_session_and_static_token(api_client, user, tokens_for):
    laptop, phone = tokens_for(user), tokens_for(user)
    key = api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(laptop["access"])).json()[
        "token"
    ]
    response = api_client.delete(
        "/api/auth/me/", {"password": "wrong-password"}, format="json", **bearer(phone["access"])
    )
    assert response.status_code == 400 and set(response.json()) == {"password"}
    assert api_client.delete("/api/auth/me/", format="json", **bearer(phone["access"])).status_code == 400

    response = api_client.delete("/api/auth/me/", {"password": PASSWORD}, format="json", **bearer(phone["access"]))
    assert response.status_code == 204
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    for tokens in (laptop, phone):
        assert api_client.get("/api/protected/", **bearer(tokens["access"])).status_code == 401
        answer = api_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
        assert answer.status_code == 401
    assert api_client.get("/api/protected/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert login(api_client).status_code == 401


# -- REQUIRE_EMAIL_VERIFICATION ------------------------------------------------------------
@override_settings(AUTHGATE={"REQUIRE_EMAIL_VERIFICATION": True})
def test_required_verification_refuses_login_only_after_the_right_password(api_client, user):
    wrong = login(api_client, "alice", "wrong-password")
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    response = login(api_client, "alice")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Verify your email address before signing in: follow the link we sent you.",
        "code": "email_unverified",
    }
    assert not user.authgate_sessions.exists()
    recovery.mark_verified(user)
    assert login(api_client, "alice").status_code == 200


@override_settings(AUTHGATE={"REQUIRE_EMAIL_VERIFICATION": True})
def test_required_verification_refuses_the_admin_login_form_too_only_after_the_right_password(make_user):
    staff = make_user("boss", is_staff=True)
    client = Client()
    wrong = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "wrong-password"})
    assert wrong.status_code == 200 and "Verify your email" not in wrong.content.decode()
    refused = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD})
    assert refused.status_code == 200  # the form again, with the reason
    assert "Verify your email address before signing in" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    recovery.mark_verified(staff)
    signed_in = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD})
    assert signed_in.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)


def test_verification_is_not_required_by_default(api_client, user):
    assert login(api_client).status_code == 200


# -- links ---------------------------------------------------------------------------------
@override_settings(
    AUTHGATE={
        "PASSWORD_RESET_URL": "https://app.example/reset/{uid}/{token}?uid={uid}&token={token}",
        "EMAIL_VERIFY_URL": "/#/verify?uid={uid}&token={token}",
    }
)
def test_link_templates_are_settings(api_client, user, smtp):
    reset(api_client, user.email)
    [message] = smtp.wait_for(user.email)
    link = message.uid_and_token
    assert (
        message.link
        == f"https://app.example/reset/{link['uid']}/{link['token']}?uid={link['uid']}&token={link['token']}"
    )
    register(api_client, "dave", "dave@example.com")
    [message] = smtp.wait_for("dave@example.com")
    assert message.link.startswith("http://testserver/#/verify?uid=")


@pytest.mark.parametrize("path", ["/api/auth/password/reset/confirm/", "/api/auth/email/verify/"])
def test_links_need_both_fields(api_client, db, path):
    response = api_client.post(path, {}, format="json")
    assert response.status_code == 400
    assert {"uid", "token"} <= set(response.json())


def test_the_superuser_made_from_the_environment_has_a_verified_address(db, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@example.com")
    call_command("ensure_superuser", stdout=None)
    assert recovery.is_email_verified(get_user_model().objects.get(username="boss"))


def test_the_admin_lists_verified_addresses_and_support_can_vouch_for_one(client, make_user):
    staff = make_user("root", is_staff=True, is_superuser=True)
    alice = make_user("alice")
    recovery.mark_verified(alice)
    alice.email = "alice@new.example"  # changed since: the record no longer proves it
    alice.save()
    client.force_login(staff)
    page = client.get("/admin/authgate/emailaddress/")
    assert page.status_code == 200
    assert b"alice@example.com" in page.content
    response = client.post(
        "/admin/authgate/emailaddress/",
        {
            "action": "mark_current_addresses_verified",
            "_selected_action": [str(alice.authgate_email.pk)],
        },
    )
    assert response.status_code == 302
    assert recovery.is_email_verified(get_user_model().objects.get(pk=alice.pk))
