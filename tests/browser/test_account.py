"""
The account page and authgate.js in a real browser: devices, sign-out everywhere, tabs that
follow each other, single-flight refresh in one tab and across tabs (bearer mode), and cookie
mode end to end.

Runs against a live gunicorn server (tests/support/browser.py); one server and one Chromium
for the module, since starting them costs more than all the tests. Each test registers its
own user, so the tests do not depend on each other's sessions.
"""

from urllib.parse import urlparse

import pytest

from tests.support.browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    browser,
    expired_copy,
    new_context,
    screenshot,
    server,
    sign_in,
    stored,
)

pytestmark = pytest.mark.browser

TOKENS = "authgate:tokens"  # where authgate.js keeps the bearer session (localStorage)
REFRESH = "/api/auth/token/refresh/"
PROTECTED = "/api/protected/"
AUTH_COOKIES = {"authgate_access", "authgate_refresh"}


def expect(*args, **kwargs):
    # Imported late: without playwright the module must still import, so that
    # browser_support can skip (or fail under CI) with a clear reason.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def state(page):
    return page.locator("body")


def path_of(url):
    return urlparse(url).path


def open_page(context):
    page = context.new_page()
    page.goto("/")
    expect(state(page)).to_have_attribute("data-ready", "true")
    return page


def install_expired_access(page):
    """Replaces the stored access token by an expired copy (see expired_copy): the next API
    call gets 401 "expired", as after ACCESS_TOKEN_LIFETIME. Forging it with the test server's
    key costs nothing, where a short-lived-token server would cost a start-up and a wait."""
    tokens = stored(page, TOKENS)
    expired = expired_copy(tokens["access"])
    page.evaluate(
        """([key, access]) => {
             const s = JSON.parse(localStorage.getItem(key));
             localStorage.setItem(key, JSON.stringify({ ...s, access }));
           }""",
        [TOKENS, expired],
    )
    return tokens, expired


def test_two_devices_see_each_other_and_sign_out_everywhere(server, new_context):
    server.register("ada")
    laptop = open_page(new_context())
    phone = open_page(new_context())

    # A wrong password is reported as such and leaves the page on the sign-in form.
    form = laptop.locator("#login-form")
    form.locator("input[name=username]").fill("ada")
    form.locator("input[name=password]").fill("not-the-password")
    form.locator("button[type=submit]").click()
    expect(laptop.locator("#message")).to_have_attribute("data-code", "invalid_credentials")
    expect(laptop.locator("#message")).to_have_text("Wrong username or password.")
    expect(state(laptop)).to_have_attribute("data-state", "signed-out")

    sign_in(laptop, "ada")
    expect(laptop.locator("#sessions tr[data-session-id]")).to_have_count(1)
    sign_in(phone, "ada")
    expect(phone.locator("#sessions tr[data-session-id]")).to_have_count(2)
    laptop.locator("#reload-sessions").click()
    expect(laptop.locator("#sessions tr[data-session-id]")).to_have_count(2)

    # Each device marks its own session as "this device".
    laptop_session = stored(laptop, TOKENS)["session_id"]
    phone_session = stored(phone, TOKENS)["session_id"]
    assert laptop_session != phone_session
    expect(laptop.locator("#sessions tr.current")).to_have_attribute("data-session-id", laptop_session)
    expect(phone.locator("#sessions tr.current")).to_have_attribute("data-session-id", phone_session)
    expect(laptop.locator("#staff-badge")).to_be_hidden()
    expect(laptop.locator("#admin")).to_be_hidden()
    screenshot(laptop, "account-two-sessions")

    laptop_access = stored(laptop, TOKENS)["access"]
    phone.locator("#logout-all").click()
    expect(state(phone)).to_have_attribute("data-state", "signed-out")
    expect(phone.locator("#message")).to_have_attribute("data-code", "logged_out_all")

    # The laptop learns nothing until its next API call: that call fails (its access token
    # is revoked, the refresh too) and the page goes back to sign-in.
    with (
        laptop.expect_response(lambda r: path_of(r.url) == REFRESH) as refreshed,
        laptop.expect_response(lambda r: path_of(r.url) == "/api/auth/sessions/") as listed,
    ):
        laptop.locator("#reload-sessions").click()
    assert listed.value.status == 401
    assert listed.value.json()["reason"] == "revoked"
    assert refreshed.value.status == 401
    expect(state(laptop)).to_have_attribute("data-state", "signed-out")
    expect(laptop.locator("#message")).to_have_attribute("data-code", "session_ended")
    expect(laptop.locator("#login-form")).to_be_visible()
    assert stored(laptop, TOKENS) is None
    screenshot(laptop, "account-session-ended")

    status, body = server.api("GET", PROTECTED, token=laptop_access)
    assert (status, body["reason"]) == (401, "revoked")


def test_tabs_follow_each_other_in_and_out(server, new_context):
    server.register("tabs")
    context = new_context()
    first, second = open_page(context), open_page(context)
    expect(state(second)).to_have_attribute("data-state", "signed-out")

    sign_in(first, "tabs")
    expect(state(second)).to_have_attribute("data-state", "signed-in")
    expect(second.locator("#message")).to_have_attribute("data-code", "other_tab_login")
    expect(second.locator("#profile")).to_have_attribute("data-username", "tabs")
    access = stored(first, TOKENS)["access"]

    second.locator("#logout").click()
    expect(state(second)).to_have_attribute("data-state", "signed-out")
    expect(second.locator("#message")).to_have_attribute("data-code", "logged_out")
    expect(state(first)).to_have_attribute("data-state", "signed-out")
    expect(first.locator("#message")).to_have_attribute("data-code", "other_tab_logout")
    screenshot(first, "tabs-other-tab-logged-out")

    # Really logged out on the server, not just forgotten by the browser.
    status, body = server.api("GET", PROTECTED, token=access)
    assert (status, body["reason"]) == (401, "revoked")


def test_ten_concurrent_fetches_after_expiry_make_one_refresh(server, new_context):
    server.register("burst")
    page = open_page(new_context())
    sign_in(page, "burst")
    before, expired = install_expired_access(page)
    status, body = server.api("GET", PROTECTED, token=expired)
    assert (status, body["reason"]) == (401, "expired")  # the forged token is what we think

    requests = []
    page.on("request", lambda r: requests.append((r.method, path_of(r.url))))
    results = page.evaluate(
        """async (url) => {
             const responses = await Promise.all(Array.from({ length: 10 }, () => authgate.fetch(url)));
             return Promise.all(responses.map(async (r) => [r.status, (await r.json()).message]));
           }""",
        PROTECTED,
    )

    assert results == [[200, "Hello burst, you have accessed a protected route!"]] * 10
    assert requests.count(("POST", REFRESH)) == 1
    assert requests.count(("GET", PROTECTED)) == 20  # ten 401s, then ten retries
    after = stored(page, TOKENS)
    assert after["refresh"] != before["refresh"] and after["access"] not in (before["access"], expired)
    assert after["session_id"] == before["session_id"]
    expect(state(page)).to_have_attribute("data-state", "signed-in")


def test_tabs_share_one_refresh(server, new_context):
    """Two tabs hit 401 at once: one rotates, the other waits for the lock and adopts the
    new pair. The refresh is held at the network until both tabs have their 401s, so the
    cross-tab path is exercised every run, not only when the timing happens to overlap."""
    server.register("pair")
    context = new_context()
    first, second = open_page(context), open_page(context)
    sign_in(first, "pair")
    expect(state(second)).to_have_attribute("data-state", "signed-in")
    expect(state(second)).to_have_attribute("data-loaded", "true")
    before, expired = install_expired_access(first)
    # The other tab's localStorage view is updated asynchronously: wait until it has it.
    second.wait_for_function("([k, v]) => JSON.parse(localStorage.getItem(k)).access === v", arg=[TOKENS, expired])

    held, requests = [], []
    context.on("request", lambda r: requests.append((r.method, path_of(r.url))))
    # Hold the first refresh; let any further one through (the test then fails on the count
    # instead of hanging).
    context.route(f"**{REFRESH}", lambda route: route.continue_() if held else held.append(route))
    for page in (first, second):
        # Count the 401s each tab receives (authgate.js calls the global fetch at call time).
        page.evaluate(
            """(url) => {
                 const plain = window.fetch;
                 window.unauthorized = 0;
                 window.fetch = async (...args) => {
                   const r = await plain(...args);
                   if (r.status === 401) window.unauthorized += 1;
                   return r;
                 };
                 window.burst = Promise.all(Array.from({ length: 5 }, () => authgate.fetch(url)))
                   .then((rs) => rs.map((r) => r.status));
               }""",
            PROTECTED,
        )
    first.wait_for_function("() => window.unauthorized === 5")
    second.wait_for_function("() => window.unauthorized === 5")
    # Route handlers are dispatched to Python only while Playwright is waiting: poll for
    # the held refresh (bounded) rather than assume it arrived with the 401s.
    for _ in range(100):
        if held:
            break
        first.wait_for_timeout(50)
    assert len(held) == 1  # only one tab went to the network for a new pair
    held[0].continue_()

    assert first.evaluate("window.burst") == [200] * 5
    assert second.evaluate("window.burst") == [200] * 5
    assert requests.count(("POST", REFRESH)) == 1
    assert requests.count(("GET", PROTECTED)) == 20
    assert stored(second, TOKENS)["refresh"] != before["refresh"]
    for page in (first, second):
        expect(state(page)).to_have_attribute("data-state", "signed-in")


def test_rotation_is_handed_over_when_storage_lags(server, new_context):
    """The worst case of the race above, made certain: two clients on one origin whose
    storages never see each other's writes (as when Chromium has not yet propagated a
    localStorage write to another tab's process when that tab gets the lock). The second
    must adopt the first one's rotation (IndexedDB hand-off), not rotate the spent token again."""
    server.register("lag")
    status, pair = server.api("POST", "/api/auth/login/", {"username": "lag", "password": PASSWORD})
    assert status == 200, pair
    page = open_page(new_context())
    refreshes = []
    page.on("request", lambda r: refreshes.append(r.method) if path_of(r.url) == REFRESH else None)
    same = page.evaluate(
        """async (state) => {
             const { createClient } = await import("/static/authgate/authgate.js");
             const lagging = () => {  // a storage of its own: never sees the other's writes
               const m = new Map([["handoff-test:tokens", JSON.stringify(state)]]);
               return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
             };
             const options = { storageKey: "handoff-test", BroadcastChannel: null, eventTarget: null };
             const a = createClient({ ...options, storage: lagging() });
             const b = createClient({ ...options, storage: lagging() });
             const stale = a.staleKey();
             const first = await a.refresh({ stale });
             const second = await b.refresh({ stale });
             return [first.refresh === second.refresh, b.staleKey() === a.staleKey(), a.staleKey() !== stale];
           }""",
        {"access": pair["access"], "refresh": pair["refresh"], "session_id": pair["session_id"]},
    )
    assert same == [True, True, True]
    assert refreshes == ["POST"]


# ---- cookie mode ---------------------------------------------------------------


def jar(context):
    return {c["name"]: c for c in context.cookies()}


def test_cookie_mode_end_to_end(server, new_context):
    """`/?mode=cookie`: the tokens live in HttpOnly cookies that page JavaScript cannot read,
    the API works through them, refresh rotates them (CSRF header included), and logout ends
    the session and clears them."""
    server.register("crumb")
    hello = "Hello crumb, you have accessed a protected route!"
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
    assert page.evaluate("u => authgate.fetch(u).then(r => r.json())", PROTECTED) == {"message": hello}
    assert page.evaluate("u => fetch(u).then(r => r.status)", PROTECTED) == 200

    # Refresh: the access cookie has expired (an expired copy signed with the server's key,
    # put in the jar as the server would have); the client refreshes once, with the CSRF
    # header, the server rotates both cookies, the retried call succeeds.
    old = jar(context)
    context.add_cookies([{**old["authgate_access"], "value": expired_copy(old["authgate_access"]["value"])}])
    refreshes = []
    page.on("request", lambda r: refreshes.append(r) if path_of(r.url) == REFRESH else None)
    result = page.evaluate("u => authgate.fetch(u).then(async r => [r.status, await r.json()])", PROTECTED)
    assert result == [200, {"message": hello}]
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
