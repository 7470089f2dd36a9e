"""
Chromium with a virtual authenticator (CDP `WebAuthn.addVirtualAuthenticator`: CTAP2, an
internal platform authenticator with resident keys and user verification) against the
live service of tests/support/browser.py.

The service is reached as http://localhost:PORT, not 127.0.0.1: an IP address cannot be a
WebAuthn RP ID, and localhost is a secure context, so the ceremonies run exactly as on an
HTTPS site. The RP ID is then "localhost" (the service's default: the request's host name)
and the origin http://localhost:PORT.

`other_origin()` serves a blank page on another port of localhost: a different origin with
the same RP ID, from which Chromium makes real, well-signed assertions the service must
refuse.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

from tests.mfa.soft_authenticator import SoftAuthenticator, b64u

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}

# In the page: the Level 3 JSON forms, as an app would use them.
CREATE = """async ([publicKey]) => {
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey) });
  return credential.toJSON();
}"""
GET = """async ([publicKey]) => {
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey) });
  return credential.toJSON();
}"""
FETCH = """async ([method, path, body, access]) => {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (access) headers.Authorization = `Bearer ${access}`;
  const r = await fetch(path, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}"""


def localhost_url(server: Any) -> str:
    return server.url.replace("://127.0.0.1:", "://localhost:")


class VirtualAuthenticator:
    """One virtual authenticator attached to `page` (it stays through navigations)."""

    def __init__(self, page: Any, **options: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        added = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {**AUTHENTICATOR, **options}})
        self.id = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])

    def software_copy(self) -> SoftAuthenticator:
        """The (one) credential it holds, as a SoftAuthenticator with the same private key,
        id, user handle and counter: to forge well-signed assertions in a chosen shape."""
        (held,) = self.credentials()
        handle = b64u(base64.b64decode(held["userHandle"])) if held.get("userHandle") else None
        return SoftAuthenticator.from_private_key(
            held["privateKey"],
            b64u(base64.b64decode(held["credentialId"])),
            user_handle=handle,
            sign_count=held["signCount"],
        )

    def create(self, public_key: dict[str, Any]) -> dict[str, Any]:
        return dict(self.page.evaluate(CREATE, [public_key]))

    def get(self, public_key: dict[str, Any]) -> dict[str, Any]:
        return dict(self.page.evaluate(GET, [public_key]))


def call(page: Any, method: str, path: str, body: Any = None, access: str | None = None) -> tuple[int, Any]:
    """(status, JSON body) of a fetch() made by the page (its origin, its cookies)."""
    result = page.evaluate(FETCH, [method, path, body, access])
    return result["status"], result["body"]


class _Blank(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<!doctype html><title>another origin</title><p>another origin"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def other_origin() -> Iterator[str]:
    """http://localhost:OTHERPORT/ — same host (so the same RP ID), another origin."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
