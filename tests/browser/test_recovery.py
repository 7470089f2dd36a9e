"""
Account recovery on the account page, in Chromium, against the service under gunicorn
sending its mails to a real SMTP server on loopback (tests/support/smtp.py):

- "Forgot password?" mails a link; the link opens the page on "choose a new password"; a
  weak password is refused there and the link still works; the new password signs every
  device out and the link works once;
- the unverified-email banner, its resend button, and the verification link;
- email change (password required, the new address unverified and mailed);
- account deletion (password and confirmation required) signs out every device.
"""

import uuid

import pytest

from tests.support.browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    browser,
    live_server,
    new_context,
    sign_in,
)

from ..support.smtp import smtp_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Brand-new-passphrase-42"


@pytest.fixture(scope="module")
def server(browser, smtp_server):  # noqa: F811  (this module's server sends real mail)
    # Every test's mails come from 127.0.0.1: a per-IP mail limit that a repeated run
    # (`--count=30`) does not reach; the per-address limit stays the default.
    with live_server(AUTHGATE_MAIL_THROTTLE_IP="1000/1h", **smtp_server.environment()) as s:
        yield s


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def open_page(context, path="/"):
    page = context.new_page()
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def message(page):
    return page.locator("#message")


def mail_with_subject(smtp_server, address, count, words):  # noqa: F811
    [mail] = [m for m in smtp_server.wait_for(address, count) if words in m.subject][-1:]
    return mail


def test_forgot_password_link_sets_a_new_password_once(server, new_context, smtp_server):  # noqa: F811
    server.register("fiona")
    phone = open_page(new_context())
    sign_in(phone, "fiona")  # a device signed in before the reset

    page = open_page(new_context())
    page.locator("#forgot-password").click()
    form = page.locator("#reset-request-form")
    expect(form).to_be_visible()
    form.locator("input[name=email]").fill("FIONA@example.com")
    form.locator("button[type=submit]").click()
    expect(message(page)).to_have_attribute("data-code", "reset_requested")

    link = mail_with_subject(smtp_server, "fiona@example.com", 2, "Reset your password").link
    assert link.startswith(f"{server.url}/?")
    page.goto(link)
    expect(page.locator("body")).to_have_attribute("data-state", "reset-password")
    assert "token=" not in page.url  # taken out of the address bar once read

    confirm = page.locator("#reset-confirm-form")
    expect(page.locator("#reset-account")).to_have_text("fiona")
    confirm.locator("input[name=new_password]").fill("short")
    confirm.locator("input[name=new_password_confirm]").fill("short")
    confirm.locator("button[type=submit]").click()
    expect(confirm.locator("[data-error-for=new_password]")).not_to_be_empty()
    expect(page.locator("body")).to_have_attribute("data-state", "reset-password")
    confirm.locator("input[name=new_password]").fill(NEW_PASSWORD)
    confirm.locator("input[name=new_password_confirm]").fill(NEW_PASSWORD)
    confirm.locator("button[type=submit]").click()
    expect(message(page)).to_have_attribute("data-code", "password_reset")
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")

    # The other device was signed out by the reset: its next request finds out.
    phone.locator("#reload-sessions").click()
    expect(phone.locator("body")).to_have_attribute("data-state", "signed-out")
    expect(message(phone)).to_have_attribute("data-code", "session_ended")

    # The old password fails, the new one works.
    login = page.locator("#login-form")
    login.locator("input[name=username]").fill("fiona")
    login.locator("input[name=password]").fill(PASSWORD)
    login.locator("button[type=submit]").click()
    expect(message(page)).to_have_attribute("data-code", "invalid_credentials")
    sign_in(page, "fiona", NEW_PASSWORD)

    # The link worked once: opened again, the page says so before anything is typed.
    used = open_page(new_context(), link)
    expect(message(used)).to_have_attribute("data-code", "invalid_link")
    expect(used.locator("body")).to_have_attribute("data-state", "signed-out")


def test_unverified_banner_resend_and_verification_link(server, new_context, smtp_server):  # noqa: F811
    # A fresh name per run, so that the test can be repeated against one server
    # (`pytest --count=30`, to show it is stable).
    name = f"gina{uuid.uuid4().hex[:8]}"
    server.register(name)
    page = open_page(new_context())
    sign_in(page, name)
    banner = page.locator("#verify-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"{name}@example.com")

    page.locator("#resend-verification").click()
    expect(message(page)).to_have_attribute("data-code", "verification_sent")
    link = mail_with_subject(smtp_server, f"{name}@example.com", 2, "Confirm your email").link

    page.goto(link)
    expect(message(page)).to_have_attribute("data-code", "email_verified")
    expect(page.locator("body")).to_have_attribute("data-email-verified", "true")
    expect(banner).to_be_hidden()
    assert "token=" not in page.url
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(banner).to_be_hidden()


def test_email_change_needs_the_password_and_waits_for_the_new_address_link(server, new_context, smtp_server):  # noqa: F811
    server.register("hana")
    page = open_page(new_context())
    sign_in(page, "hana")
    form = page.locator("#email-form")
    form.locator("input[name=email]").fill("hana.new@example.com")
    form.locator("input[name=password]").fill("not-the-password")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-error-for=password]")).not_to_be_empty()
    expect(page.locator("#profile-email")).to_have_text("hana@example.com")

    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(message(page)).to_have_attribute("data-code", "email_changed")
    expect(page.locator("#profile-email")).to_have_text("hana@example.com")
    expect(page.locator("#profile-pending-email")).to_contain_text("hana.new@example.com")
    link = mail_with_subject(smtp_server, "hana.new@example.com", 1, "Confirm your email").link
    page.goto(link)
    expect(message(page)).to_have_attribute("data-code", "email_verified")
    expect(page.locator("#profile-email")).to_have_text("hana.new@example.com")
    expect(page.locator("#profile-pending-email")).to_be_hidden()
    expect(page.locator("#verify-banner")).to_be_hidden()


def test_account_deletion_signs_out_every_device(server, new_context):
    server.register("ivan")
    laptop, phone = open_page(new_context()), open_page(new_context())
    sign_in(laptop, "ivan")
    sign_in(phone, "ivan")
    form = laptop.locator("#delete-form")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(message(laptop)).to_have_attribute("data-code", "confirm_required")
    expect(laptop.locator("body")).to_have_attribute("data-state", "signed-in")

    form.locator("input[name=confirm]").check()
    form.locator("button[type=submit]").click()
    expect(message(laptop)).to_have_attribute("data-code", "account_deleted")
    expect(laptop.locator("body")).to_have_attribute("data-state", "signed-out")

    phone.locator("#reload-sessions").click()
    expect(phone.locator("body")).to_have_attribute("data-state", "signed-out")
    status, body = server.api("POST", "/api/auth/login/", {"username": "ivan", "password": PASSWORD})
    assert status == 401, body


def test_required_verification_on_the_page(browser, smtp_server):  # noqa: F811
    """REQUIRE_EMAIL_VERIFICATION on: the right password of an unverified account gets an
    explanation, not a session; the link of the registration mail lets the user in."""
    with live_server(AUTHGATE_REQUIRE_EMAIL_VERIFICATION="1", **smtp_server.environment()) as strict:
        strict.register("jules")
        context = browser.new_context(base_url=strict.url)
        try:
            page = open_page(context)
            form = page.locator("#login-form")
            form.locator("input[name=username]").fill("jules")
            form.locator("input[name=password]").fill(PASSWORD)
            form.locator("button[type=submit]").click()
            expect(message(page)).to_have_attribute("data-code", "email_unverified")
            expect(message(page)).to_contain_text("Forgot password?")
            expect(page.locator("body")).to_have_attribute("data-state", "signed-out")

            link = mail_with_subject(smtp_server, "jules@example.com", 1, "Confirm your email").link
            page.goto(link)
            expect(message(page)).to_have_attribute("data-code", "email_verified")
            sign_in(page, "jules")
        finally:
            context.close()
