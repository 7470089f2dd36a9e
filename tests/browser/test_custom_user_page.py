"""
The account page of a project whose user model logs in by email (tests/custom_user: no
`username` field, `full_name` required), in Chromium against the live service: the
registration form asks for the model's fields (email, full name, password), not for a
username; each field error is shown under its field and the message names the fields; the
account it creates has the full name and signs in by email. Screenshots under
test-artifacts/browser/custom-user-*.png; axe-core finds no serious or critical violation.
"""

import sqlite3

import pytest

from tests.support.browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    axe_violations,
    browser,
    live_server,
    new_context,
    screenshot,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(browser):  # noqa: F811
    with live_server(DJANGO_SETTINGS_MODULE="tests.custom_user.live_settings") as s:
        yield s


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def looks_right(page, name):
    screenshot(page, f"custom-user-{name}")
    assert axe_violations(page) == [], name


def test_the_form_asks_for_the_models_fields_names_each_error_and_registers(server, new_context):
    page = new_context().new_page()
    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    register = page.locator("#register-form")
    names = register.locator("input, select").evaluate_all("inputs => inputs.map((i) => i.name)")
    assert names == ["email", "full_name", "password"]
    labels = register.locator(".field .label").all_inner_texts()
    assert labels == ["Email", "Full name", "Password"]
    expect(register.locator("input[name=email]")).to_have_attribute("type", "email")
    expect(register.locator("input[name=email]")).to_have_attribute("autocomplete", "username")
    expect(register.locator("input[name=full_name]")).to_have_attribute("autocomplete", "name")
    expect(page.locator("#login-form .field .label").first).to_have_text("Email")
    looks_right(page, "signed-out")

    # Nothing filled in: every field says what is wrong with it, the message names them all.
    register.locator("button[type=submit]").click()
    message = page.locator("#message")
    expect(message).to_have_attribute("data-code", "invalid")
    expect(message).to_have_text("Please correct Email, Full name and Password.")
    for field in ("email", "full_name", "password"):
        expect(register.locator(f"[data-error-for={field}]")).not_to_be_empty()
        expect(register.locator(f"[name={field}]")).to_have_attribute("aria-invalid", "true")
    expect(register.locator("input[name=email]")).to_be_focused()
    looks_right(page, "all-fields-missing")

    # Only the full name missing: only it is marked, and the message says which.
    register.locator("input[name=email]").fill("Grace@Example.com")
    register.locator("input[name=password]").fill(PASSWORD)
    register.locator("button[type=submit]").click()
    expect(message).to_have_text("Please correct Full name.")
    expect(register.locator("[data-error-for=full_name]")).to_have_text("This field may not be blank.")
    expect(register.locator("[data-error-for=email]")).to_be_empty()
    expect(register.locator("input[name=email]")).not_to_have_attribute("aria-invalid", "true")
    looks_right(page, "full-name-missing")

    register.locator("input[name=full_name]").fill("Grace Hopper")
    register.locator("input[name=password]").fill(PASSWORD)  # the browser cleared nothing, but be explicit
    register.locator("button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#profile")).to_have_attribute("data-username", "Grace@example.com")
    looks_right(page, "registered")

    with sqlite3.connect(server.dir / "authgate.sqlite3") as db:
        rows = db.execute("SELECT email, full_name FROM custom_user_emailuser").fetchall()
    assert rows == [("Grace@example.com", "Grace Hopper")]

    # The same email again (in another case): the error is the email's, and named.
    page.locator("#logout").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    register.locator("input[name=email]").fill("grace@EXAMPLE.com")
    register.locator("input[name=full_name]").fill("Someone Else")
    register.locator("input[name=password]").fill(PASSWORD)
    register.locator("button[type=submit]").click()
    expect(message).to_have_text("Please correct Email.")
    expect(register.locator("[data-error-for=email]")).not_to_be_empty()
    looks_right(page, "email-taken")

    # Signing in by email, as the sign-in form's label says.
    login = page.locator("#login-form")
    login.locator("input[name=username]").fill("grace@example.com")
    login.locator("input[name=password]").fill(PASSWORD)
    login.locator("button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
