"""
Security notifications, through a real SMTP server: a sign-in from a new device (known by
its device cookie, else by user agent and network), a password change, an email change and
refresh-token reuse each mail the user, naming the device, the IP and the time and linking
to the session list; only the new-device mail can be turned off; a mail server that is
down changes no answer.
"""

from datetime import timedelta

from rest_framework.test import APIClient

from authgate import notifications
from authgate.mail import outbox
from authgate.models import KnownDevice

from ..conftest import PASSWORD, bearer
from ..support.smtp import mail_settings, smtp, smtp_server  # noqa: F401  (fixtures)

LAPTOP = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "REMOTE_ADDR": "198.51.100.7"}
PHONE = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Safari/604.1", "REMOTE_ADDR": "203.0.113.80"}
NEW_SIGN_IN = "New sign-in to your account"


def sign_in(client, headers, **extra):
    response = client.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD, **extra}, format="json", **headers
    )
    assert response.status_code == 200, response.content
    return response.json()


def delivered(smtp, address="alice@example.com"):
    """Every mail to `address` once the outbox has sent what it was given."""
    outbox.flush()
    return smtp.to(address)


def test_a_sign_in_from_a_new_device_is_mailed_with_device_ip_time_and_the_session_list(user, smtp):
    laptop = APIClient()
    sign_in(laptop, LAPTOP)  # the account's first device: nothing to compare with
    sign_in(laptop, LAPTOP)  # the same browser (its device cookie came back)
    assert laptop.cookies[notifications.DEVICE_COOKIE_NAME]["httponly"]
    sign_in(APIClient(), {**LAPTOP, "REMOTE_ADDR": "198.51.100.9"})  # no cookie: same agent, same network
    sign_in(APIClient(), PHONE)  # a device never seen
    (mail,) = delivered(smtp)
    assert NEW_SIGN_IN in mail.subject
    assert "iPhone" in mail.text and "203.0.113.80" in mail.text and "Time:" in mail.text
    assert mail.link == "http://testserver/#sessions-title"
    assert "turn off" in mail.text
    sign_in(APIClient(), PHONE)  # now known
    assert len(delivered(smtp)) == 1


def test_the_new_device_mail_can_be_turned_off_and_the_others_still_go(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    assert api_client.get("/api/auth/notifications/", **bearer(access)).json() == {"new_device": True}
    response = api_client.patch("/api/auth/notifications/", {"new_device": False}, format="json", **bearer(access))
    assert response.status_code == 200 and response.json() == {"new_device": False}
    bad = api_client.patch("/api/auth/notifications/", {"new_device": "perhaps"}, format="json", **bearer(access))
    assert bad.status_code == 400 and "new_device" in bad.json()
    sign_in(APIClient(), PHONE)
    changed = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "An-other-passphrase-55"},
        format="json",
        **bearer(access),
        **LAPTOP,
    )
    assert changed.status_code == 200, changed.content
    (mail,) = delivered(smtp)  # the password notice only: no new-device mail
    assert "password of your account" in mail.subject
    assert "Firefox" in mail.text and "198.51.100.7" in mail.text
    assert "turn off" not in mail.text


def test_an_email_change_tells_the_old_address_with_the_device_that_confirmed_it(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    response = api_client.patch(
        "/api/auth/me/", {"email": "alice.new@example.com", "password": PASSWORD}, format="json", **bearer(access)
    )
    assert response.status_code == 200, response.content
    assert delivered(smtp) == []  # nothing changed yet: the new address is pending
    (link,) = delivered(smtp, "alice.new@example.com")
    confirmed = api_client.post("/api/auth/email/verify/", link.uid_and_token, format="json", **PHONE)
    assert confirmed.status_code == 200, confirmed.content
    (mail,) = delivered(smtp)
    assert "email address" in mail.subject
    assert "alice.new@example.com" in mail.text and "iPhone" in mail.text and "203.0.113.80" in mail.text


def test_refresh_token_reuse_tells_the_owner_someone_may_have_the_token(api_client, user, smtp, settings):
    settings.AUTHGATE = {**(getattr(settings, "AUTHGATE", {}) or {}), "REFRESH_RETRY_WINDOW": timedelta(0)}
    pair = sign_in(APIClient(), LAPTOP, device="work laptop")
    assert api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json").status_code == 200
    reused = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert reused.status_code == 401
    (mail,) = delivered(smtp)
    assert "Someone may have your token" in mail.subject
    assert "work laptop" in mail.text and "198.51.100.7" in mail.text


def test_a_mail_server_that_is_down_changes_no_login(user, settings):
    smtp = mail_settings("django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=9, timeout=1)
    for name, value in smtp.items():  # nothing listens on port 9
        setattr(settings, name, value)
    sign_in(APIClient(), LAPTOP)
    sign_in(APIClient(), PHONE)  # a new device: its mail cannot be delivered, the answer is the same
    assert KnownDevice.objects.filter(user=user).count() >= 2


def test_known_devices_are_bounded_for_clients_that_never_send_the_cookie_back(user):
    from django.test import RequestFactory

    for _ in range(notifications.MAX_DEVICES + 20):
        request = RequestFactory().post("/api/auth/login/", **PHONE)
        notifications.recognise(user, request, user_agent=PHONE["HTTP_USER_AGENT"], ip=PHONE["REMOTE_ADDR"])
    assert KnownDevice.objects.filter(user=user).count() <= notifications.MAX_DEVICES


def test_a_sign_in_to_the_django_admin_from_a_new_device_is_mailed_too(staff_user, smtp):
    from django.test import Client

    sign_in(APIClient(), LAPTOP, username="root")  # the account's first device
    admin = Client(**PHONE)
    answer = admin.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert answer.status_code == 302
    assert answer.cookies[notifications.DEVICE_COOKIE_NAME]["httponly"]  # known by it next time
    (mail,) = delivered(smtp, staff_user.email)
    assert NEW_SIGN_IN in mail.subject and "iPhone" in mail.text and "203.0.113.80" in mail.text
    admin.post("/admin/logout/")
    assert admin.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}).status_code == 302
    sign_in(APIClient(), PHONE, username="root")  # no cookie: the same agent and network
    assert len(delivered(smtp, staff_user.email)) == 1


def test_an_email_changed_in_the_django_admin_tells_the_old_address_once(user, staff_user, smtp):
    from django.test import Client

    staff_user.is_superuser = True
    staff_user.save(update_fields=["is_superuser"])
    admin = Client()
    admin.force_login(staff_user)
    form = admin.get(f"/admin/auth/user/{user.pk}/change/")
    assert form.status_code == 200
    data = {
        "username": "alice",
        "email": "alice.elsewhere@example.com",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    saved = admin.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert saved.status_code == 302, saved.content[:2000]
    (mail,) = delivered(smtp)  # to the previous address
    assert "email address" in mail.subject and "alice.elsewhere@example.com" in mail.text
    user.refresh_from_db()
    user.first_name = "Alice"
    user.save()  # a save that leaves the address alone tells nobody
    user.email = "ALICE.ELSEWHERE@example.com"
    user.save(update_fields=["email"])  # nor does a change of case only
    assert delivered(smtp, "alice.elsewhere@example.com") == [] and len(delivered(smtp)) == 1
