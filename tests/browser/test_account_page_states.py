"""
The account page as a person meets it, in Chromium against the live service (gunicorn, real
SMTP on loopback): every state of the page (signed out, "forgot password", field errors,
choosing a new password, signed in on a desktop and on a phone, the staff confirmation, cookie
mode) is screenshotted under test-artifacts/browser/account-state-*.png and checked by
axe-core: no serious or critical accessibility violation in any of them.

Along the way, the wording and layout a newcomer tripped over: no "Welcome back" for someone
who never signed up, nothing typed by one visitor left for the next, "Forgot password?" in
the sign-in form's place, a reset page that names the account, asks twice and leads back,
one "just now", a phone icon for a phone, the time of a sign-in, and on a phone the recent
activity before the account's forms.
"""

import os
import re
import subprocess
import sys

import pytest

from tests.support.browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    REPO,
    axe_violations,
    browser,
    live_server,
    new_context,
    screenshot,
    sign_in,
)
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
TIME = re.compile(r"\d{1,2}:\d{2}")
PHONE = {"viewport": {"width": 390, "height": 844}, "user_agent": PHONE_UA, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def server(browser, smtp_server):  # noqa: F811  (this module's server sends real mail)
    with live_server(**smtp_server.environment()) as s:
        yield s


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def open_page(context, path="/"):
    page = context.new_page()
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def looks_right(page, name):
    """Screenshot of the state for a person to look at, then axe-core on it."""
    screenshot(page, f"account-state-{name}")
    assert axe_violations(page) == [], name


def test_a_newcomer_is_not_welcomed_back_and_what_one_visitor_typed_is_gone_for_the_next(server, new_context):
    page = open_page(new_context())
    expect(page.locator("#signed-out h1")).not_to_contain_text("Welcome back")
    looks_right(page, "signed-out")

    login = page.locator("#login-form")
    login.locator("input[name=username]").fill("nobody-yet")
    login.locator("input[name=password]").fill("wrong-password-1")
    login.locator("button[type=submit]").click()
    expect(page.locator("#message")).to_have_attribute("data-code", "invalid_credentials")

    register = page.locator("#register-form")
    register.locator("input[name=username]").fill("ivy")
    register.locator("input[name=email]").fill("not-an-address")
    register.locator("input[name=password]").fill(PASSWORD)
    register.locator("button[type=submit]").click()
    expect(register.locator("[data-error-for=email]")).not_to_be_empty()
    expect(register.locator("input[name=email]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#message")).to_have_text("Please correct Email.")  # the field is named
    looks_right(page, "register-field-error")

    register.locator("input[name=email]").fill("ivy@example.com")
    register.locator("button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    page.locator("#logout").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    expect(login.locator("input[name=username]")).to_have_value("")
    expect(login.locator("input[name=password]")).to_have_value("")
    expect(register.locator("input[name=username]")).to_have_value("")


def test_forgot_password_takes_the_place_of_the_sign_in_form_and_leads_back(server, new_context):
    page = open_page(new_context(viewport={"width": 1280, "height": 900}))
    login = page.locator("#login-form")
    column = login.bounding_box()
    page.locator("#forgot-password").click()
    reset = page.locator("#reset-request-form")
    expect(reset).to_be_visible()
    expect(login).to_be_hidden()
    box = reset.bounding_box()
    # In the sign-in form's column, as wide as it: not a third, squeezed column.
    assert abs(box["x"] - column["x"]) < 1 and abs(box["width"] - column["width"]) < 1
    expect(page.locator("#register-form")).to_be_visible()
    looks_right(page, "forgot-password")
    page.locator("#back-to-sign-in").click()
    expect(login).to_be_visible()
    expect(reset).to_be_hidden()


def test_the_reset_page_names_the_account_asks_twice_and_leads_back(server, new_context, smtp_server):  # noqa: F811
    server.register("jules")
    page = open_page(new_context())
    page.locator("#forgot-password").click()
    page.locator("#reset-request-form input[name=email]").fill("jules@example.com")
    page.locator("#reset-request-form button[type=submit]").click()
    expect(page.locator("#message")).to_have_attribute("data-code", "reset_requested")
    expect(page.locator("#login-form")).to_be_visible()  # back where the visitor came from
    [mail] = smtp_server.wait_for("jules@example.com", 2)[-1:]

    page.goto(mail.link)
    expect(page.locator("body")).to_have_attribute("data-state", "reset-password")
    expect(page.locator("#reset-account")).to_have_text("jules")
    form = page.locator("#reset-confirm-form")
    form.locator("input[name=new_password]").fill("Brand-new-passphrase-42")
    form.locator("input[name=new_password_confirm]").fill("Brand-new-passphrase-24")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-error-for=new_password_confirm]")).to_contain_text("don't match")
    looks_right(page, "reset-password-mismatch")
    page.locator("#reset-back").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    # The link was not used: the old password still signs in.
    sign_in(page, "jules")


def test_sessions_say_just_now_show_a_phone_as_a_phone_and_when_each_signed_in(server, new_context):
    server.register("kim")
    phone = open_page(new_context(**PHONE))
    sign_in(phone, "kim")
    expect(phone.locator("#sessions tbody tr")).to_have_count(1)
    laptop = open_page(new_context(viewport={"width": 1280, "height": 900}))
    sign_in(laptop, "kim")
    rows = laptop.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    current, other = rows.nth(0), rows.nth(1)
    expect(current.locator("td[data-label='Last used']")).to_have_text("just now")
    expect(other.locator("td[data-label='Last used']")).to_have_text("just now")
    expect(other.locator(".device-icon")).to_have_attribute("data-kind", "phone")
    expect(current.locator(".device-icon")).to_have_attribute("data-kind", "laptop")
    # The day and the time: two sign-ins on one day are told apart.
    expect(current.locator("td[data-label='Signed in']")).to_contain_text(TIME)
    looks_right(laptop, "signed-in")

    phone.reload()
    expect(phone.locator("body")).to_have_attribute("data-loaded", "true")
    activity = phone.locator(".activity-card").bounding_box()
    assert activity["y"] < phone.locator("#password-form").bounding_box()["y"]
    assert activity["y"] < phone.locator("#delete-form").bounding_box()["y"]
    looks_right(phone, "signed-in-phone")


def test_the_staff_confirmation_and_cookie_mode_are_as_accessible(server, new_context):
    env = {**server.env, "DJANGO_SUPERUSER_USERNAME": "lee", "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    env.setdefault("DJANGO_SUPERUSER_EMAIL", "lee@example.com")
    subprocess.run(
        [sys.executable, "manage.py", "ensure_superuser"], cwd=REPO, env=env, check=True, capture_output=True
    )
    page = open_page(new_context())
    sign_in(page, "lee")
    page.locator("#invalidate-all").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    looks_right(page, "staff-confirm-dialog")
    page.locator("#cancel-invalidate").click()

    cookie = open_page(new_context(), "/?mode=cookie")
    sign_in(cookie, "lee")
    looks_right(cookie, "cookie-mode-signed-in")
    assert os.path.exists(REPO / "test-artifacts" / "browser" / "account-state-cookie-mode-signed-in.png")
