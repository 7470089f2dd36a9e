"""
Cookie mode end to end in a real browser (`/?mode=cookie`, SPEC §5): the tokens live in
HttpOnly cookies that page JavaScript cannot read, the API works through them, refresh
rotates them (CSRF header included), and logout ends the session and clears them.
"""
from urllib.parse import urlparse

import pytest

from tests.browser_support import (  # noqa: F401  (fixtures)
    browser,
    expired_copy,
    new_context,
    screenshot,
    server,
    sign_in,
)

pytestmark = pytest.mark.browser

AUTH_COOKIES = {"authgate_access", "authgate_refresh"}
REFRESH = "/api/auth/token/refresh/"
PROTECTED = "/api/protected/"
HELLO = "Hello crumb, you have accessed a protected route!"


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def jar(context):
    return {c["name"]: c for c in context.cookies()}


def test_cookie_mode_end_to_end(server, new_context):
    server.register("crumb")
    context = new_context()
    page = context.new_page()
    page.goto("/?mode=cookie")
    expect(page.locator("body")).to_have_attribute("data-mode", "cookie")
    sign_in(page, "crumb")
    screenshot(page, "cookie-mode-signed-in")

    # The browser holds the tokens, HttpOnly and Secure (Chromium accepts Secure cookies
    # from http://127.0.0.1, a secure context) — and page JavaScript cannot see them.
    cookies = jar(context)
    assert AUTH_COOKIES <= cookies.keys()
    for name in AUTH_COOKIES:
        assert cookies[name]["httpOnly"] and cookies[name]["secure"], cookies[name]
        assert cookies[name]["sameSite"] == "Lax"
    assert cookies["authgate_refresh"]["path"] == "/api/auth/"
    visible = {part.split("=")[0].strip() for part in page.evaluate("document.cookie").split(";")}
    assert visible == {"csrftoken"}
    storage = page.evaluate("Object.values({ ...localStorage }).join(' ')")
    assert cookies["authgate_access"]["value"] not in storage
    assert cookies["authgate_refresh"]["value"] not in storage
    assert page.evaluate("authgate.getAccessToken()") is None

    # The protected API works through the cookie: with the client, and with plain fetch.
    assert page.evaluate("u => authgate.fetch(u).then(r => r.json())", PROTECTED) == {"message": HELLO}
    assert page.evaluate("u => fetch(u).then(r => r.status)", PROTECTED) == 200

    # Refresh: the access cookie has expired (an expired copy signed with the server's key,
    # put in the jar as the server would have); the client refreshes once, with the CSRF
    # header, the server rotates both cookies, the retried call succeeds.
    old = jar(context)
    context.add_cookies([{**old["authgate_access"], "value": expired_copy(old["authgate_access"]["value"])}])
    refreshes = []
    page.on("request", lambda r: refreshes.append(r) if urlparse(r.url).path == REFRESH else None)
    result = page.evaluate("u => authgate.fetch(u).then(async r => [r.status, await r.json()])", PROTECTED)
    assert result == [200, {"message": HELLO}]
    assert len(refreshes) == 1
    sent = refreshes[0].all_headers()
    assert sent["x-csrftoken"] == old["csrftoken"]["value"]
    assert refreshes[0].post_data in (None, "", "{}")  # no token in the body: it is the cookie
    assert refreshes[0].response().status == 200
    new = jar(context)
    assert new["authgate_access"]["value"] != old["authgate_access"]["value"]
    assert new["authgate_refresh"]["value"] != old["authgate_refresh"]["value"]

    # Logout ends the session on the server and clears both cookies.
    page.locator("#logout").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    expect(page.locator("#message")).to_have_attribute("data-code", "logged_out")
    assert not AUTH_COOKIES & jar(context).keys()
    status, body = server.api("GET", PROTECTED, token=new["authgate_access"]["value"])
    assert (status, body["reason"]) == (401, "revoked")
    assert page.evaluate("u => fetch(u).then(r => r.status)", PROTECTED) == 401
    screenshot(page, "cookie-mode-signed-out")
