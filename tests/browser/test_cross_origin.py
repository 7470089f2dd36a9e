"""
A front end on another origin, in Chromium: a page served from a second loopback port uses
the client (imported from the API's origin) against the API, configured as the
cross-origin docs say (CORS_ALLOWED_ORIGINS, CORS_ALLOW_CREDENTIALS, CSRF_TRUSTED_ORIGINS),
in bearer mode and in cookie mode (credentials: "include"): login, an authenticated call,
logout, and the call refused afterwards. A page on an origin the API does not allow gets
the client's "blocked by CORS or the server is unreachable".
"""

import contextlib
import http.server
import threading

import pytest

from tests.support.browser import PASSWORD, browser, live_server  # noqa: F401  (fixtures)
from tests.support.processes import free_port

pytestmark = pytest.mark.browser

FLOW = """
async ([api, mode]) => {
  const { createClient } = await import(api + "/static/authgate/authgate.js");
  const options = { baseUrl: api + "/api/auth/", mode, storageKey: "x-" + mode };
  if (mode === "cookie") options.credentials = "include";
  const auth = createClient(options);
  const steps = [];
  try {
    await auth.login({ username: "nina", password: PASSWORD });
    steps.push("login");
    const me = await auth.me();
    steps.push("me:" + me.username);
    await auth.logout();
    steps.push("logout");
    const after = await auth.fetch(api + "/api/protected/");
    steps.push("after:" + after.status);
  } catch (err) {
    steps.push("error:" + err.code + ":" + err.message);
  }
  return steps;
}
""".replace("PASSWORD", repr(PASSWORD))


@contextlib.contextmanager
def static_origin():
    """A second origin: an empty page on another loopback port."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<!doctype html><title>app</title><p>app"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def app_origin():
    with static_origin() as origin:
        yield origin


@pytest.fixture(scope="module")
def api(browser, app_origin):  # noqa: F811
    with live_server(
        CORS_ALLOWED_ORIGINS=app_origin, CORS_ALLOW_CREDENTIALS="1", CSRF_TRUSTED_ORIGINS=app_origin
    ) as server:
        server.register("nina")
        yield server


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
def test_an_app_on_another_origin_signs_in_and_out(mode, browser, api, app_origin):  # noqa: F811
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(app_origin + "/")
        steps = page.evaluate(FLOW, [api.url, mode])
    finally:
        context.close()
    assert steps == ["login", "me:nina", "logout", "after:401"], steps


def test_an_origin_the_api_does_not_allow_is_told_cors_or_unreachable(browser, api):  # noqa: F811
    with static_origin() as stranger:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(stranger + "/")
            steps = page.evaluate(FLOW, [api.url, "bearer"])
        finally:
            context.close()
    assert len(steps) == 1 and steps[0].startswith("error:network_error:"), steps
    assert "blocked by CORS or the server is unreachable" in steps[0]
