"""
The interactive API docs work offline: /api/docs/ renders every operation in Debian's
Chromium, and every request the page makes goes to the service's own origin (Swagger UI's
files come from drf-spectacular-sidecar, not from a CDN).

Requests to any other origin are recorded and aborted, so the test proves the page needs
nothing from outside rather than depending on the machine's network.
"""

from urllib.parse import urlparse

import pytest

from tests.support.browser import chromium, new_context, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    # Not browser_support's fixture: that one clears test-artifacts/browser/, which holds
    # the account page tests' screenshots.
    with chromium() as b:
        yield b


def test_swagger_ui_renders_with_no_request_leaving_the_machine(new_context, server):
    from playwright.sync_api import expect

    origin = urlparse(server.url)
    requests, foreign = [], []
    context = new_context()

    def gate(route):
        url = urlparse(route.request.url)
        if (url.scheme, url.netloc) == (origin.scheme, origin.netloc):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/api/docs/")

    # Swagger UI has fetched the schema and drawn one block per operation.
    operations = page.locator(".opblock")
    expect(page.locator(".opblock-summary-path", has_text="/api/auth/login/").first).to_be_visible()
    status, schema = server.api("GET", "/api/schema/?format=json")
    assert status == 200
    expected = sum(
        1 for item in schema["paths"].values() for method in ("get", "post", "put", "patch", "delete") if method in item
    )
    expect(operations).to_have_count(expected)

    assert not foreign, f"requests that left the machine: {foreign}"
    assert requests, "the page made no request at all"
    assert all(urlparse(url).netloc == origin.netloc for url in requests if not url.startswith("data:")), requests
    assert any("/static/drf_spectacular_sidecar/" in url for url in requests), requests
