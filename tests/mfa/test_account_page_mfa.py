"""
The account page's second factors in Chromium against the live service: TOTP enrolment (QR
code, first code, recovery codes shown once with copy and download) and the code asked at
sign-in; a passkey added with the page, signing in without a password, and serving as the
second step of a password sign-in; a session opened before the factor existed asked to
confirm it's you before turning the factor off.

Screenshots of each step are saved under test-artifacts/mfa/ (git-ignored; emptied when this
module starts) for a person to look at; a failing test also leaves one of the page as it was.
"""

import contextlib
import re
import shutil
import time

import pyotp
import pytest

from tests.support.browser import REPO, TIMEOUT_MS, PASSWORD, browser, server  # noqa: F401  (fixtures)
from tests.mfa.webauthn_browser_support import VirtualAuthenticator, localhost_url

pytestmark = pytest.mark.browser

SHOTS = REPO / "test-artifacts" / "mfa"


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module", autouse=True)
def _fresh_screenshots():
    shutil.rmtree(SHOTS, ignore_errors=True)


@pytest.fixture
def open_page(browser, server, request):
    """Factory of pages, each in its own context (its own device) on http://localhost:PORT."""
    contexts, errors = [], []

    def make():
        context = browser.new_context(base_url=localhost_url(server), accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=localhost_url(server))
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return page

    failures = request.session.testsfailed
    yield make
    for i, context in enumerate(contexts):
        for page in context.pages if request.session.testsfailed > failures else ():
            with contextlib.suppress(Exception):
                shot(page, f"FAILED-{request.node.name}-{i}")
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def submit_password(page, username):
    form = page.locator("#login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


def signed_in(page, username):
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
    expect(page.locator("#profile")).to_have_attribute("data-username", username)
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")


def sign_out(page):
    page.locator("#logout").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")


def next_code(secret):
    return pyotp.TOTP(secret).at(time.time() + 30)  # the next step: the current one may be spent


def test_the_page_enrolls_totp_shows_the_codes_once_and_asks_for_a_code_at_sign_in(server, open_page):
    server.register("lin")
    page = open_page()
    submit_password(page, "lin")
    signed_in(page, "lin")
    expect(page.locator("[data-testid=mfa-none]")).to_be_visible()

    page.get_by_test_id("totp-setup").click()
    expect(page.get_by_test_id("totp-qr")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;charset=utf-8,"))
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert len(secret) >= 16
    shot(page, "01-totp-setup-qr")
    page.get_by_test_id("totp-code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_test_id("totp-confirm").click()
    expect(page.locator("#totp-form [data-error-for=code]")).not_to_be_empty()  # a wrong first code
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-confirm").click()

    codes = page.locator("#recovery-list li")
    expect(codes).to_have_count(10)
    shown = codes.all_inner_texts()
    shot(page, "02-recovery-codes-shown-once")
    page.get_by_test_id("recovery-copy").click()
    expect(page.locator("#message")).to_have_attribute("data-code", "codes_copied")
    assert page.evaluate("navigator.clipboard.readText()").split("\n") == shown
    with page.expect_download() as download:
        page.get_by_test_id("recovery-download").click()
    saved = open(download.value.path()).read()
    assert all(code in saved for code in shown)
    page.get_by_test_id("recovery-done").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_hidden()
    expect(codes).to_have_count(0)
    page.reload()  # shown once: not on the page again
    expect(page.locator("#mfa")).to_have_attribute("data-factors", "1")
    expect(page.get_by_test_id("mfa-recovery-left")).to_have_attribute("data-remaining", "10")
    expect(page.locator("#recovery-list li")).to_have_count(0)
    assert page.locator(".mfa-method[data-type=totp]").count() == 1

    sign_out(page)
    submit_password(page, "lin")
    dialog = page.get_by_test_id("mfa-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("mfa-use-key")).to_be_hidden()  # no key on this account
    shot(page, "03-sign-in-asks-for-the-code")
    page.get_by_test_id("mfa-code").fill("123")
    page.get_by_test_id("mfa-submit").click()
    expect(page.get_by_test_id("mfa-step-error")).to_have_attribute("data-code", "invalid_code")
    page.get_by_test_id("mfa-code").fill(next_code(secret))
    page.get_by_test_id("mfa-submit").click()
    expect(dialog).to_be_hidden()
    signed_in(page, "lin")

    # A recovery code works once, in the same dialog.
    sign_out(page)
    submit_password(page, "lin")
    page.get_by_test_id("mfa-code").fill(shown[0])
    page.get_by_test_id("mfa-submit").click()
    signed_in(page, "lin")
    expect(page.get_by_test_id("mfa-recovery-left")).to_have_attribute("data-remaining", "9")


def test_the_page_adds_a_passkey_that_signs_in_without_a_password_and_as_second_step(server, open_page):
    server.register("kat")
    page = open_page()
    VirtualAuthenticator(page)
    submit_password(page, "kat")
    signed_in(page, "kat")

    page.get_by_test_id("passkey-add").click()
    page.get_by_test_id("passkey-name").fill("Chromium key")
    page.get_by_test_id("passkey-submit").click()
    expect(page.locator("#message")).to_have_attribute("data-code", "passkey_added")
    expect(page.locator("#recovery-list li")).to_have_count(10)  # the account's first factor
    page.get_by_test_id("recovery-done").click()
    key = page.locator(".mfa-method[data-type=webauthn]")
    expect(key).to_contain_text("Chromium key")
    shot(page, "04-passkey-added")

    sign_out(page)
    page.get_by_test_id("passkey-login").click()  # no username, no password
    signed_in(page, "kat")
    activity = page.locator("#activity")
    expect(activity.locator("li[data-kind=mfa_added]")).to_contain_text("Passkey or security key added")
    expect(activity.locator("li[data-kind=mfa_used]").first).to_contain_text("Passkey or security key used")
    shot(page, "05-signed-in-with-the-passkey")

    sign_out(page)
    submit_password(page, "kat")
    expect(page.get_by_test_id("mfa-use-key")).to_be_visible()
    shot(page, "06-second-step-offers-the-key")
    page.get_by_test_id("mfa-use-key").click()
    signed_in(page, "kat")


def test_a_session_opened_before_the_factor_confirms_it_is_you_before_turning_it_off(server, open_page):
    server.register("mae")
    old = open_page()
    submit_password(old, "mae")
    signed_in(old, "mae")
    # Another device turns the authenticator app on.
    _, tokens = server.api("POST", "/api/auth/login/", {"username": "mae", "password": PASSWORD})
    _, setup = server.api("POST", "/api/auth/mfa/totp/", {}, tokens["access"])
    secret = setup["secret"]
    status, _ = server.api("POST", "/api/auth/mfa/totp/confirm/", {"code": pyotp.TOTP(secret).now()}, tokens["access"])
    assert status == 200

    old.reload()
    expect(old.locator("#mfa")).to_have_attribute("data-factors", "1")
    old.locator(".mfa-method[data-type=totp] [data-testid=mfa-remove]").click()
    expect(old.get_by_test_id("mfa-dialog")).to_be_visible()
    expect(old.locator("#mfa-step-title")).to_have_text("Confirm it's you")
    shot(old, "07-confirm-it-is-you")
    old.get_by_test_id("mfa-code").fill(next_code(secret))
    old.get_by_test_id("mfa-submit").click()
    expect(old.locator("#message")).to_have_attribute("data-code", "factor_removed")
    expect(old.locator("#mfa")).to_have_attribute("data-factors", "0")
    shot(old, "08-factor-turned-off")
