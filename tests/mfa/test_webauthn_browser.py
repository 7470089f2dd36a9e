"""
WebAuthn ceremonies in headless Chromium with a CDP virtual authenticator, against the live
service (gunicorn, two workers: a challenge handed out by one process is consumed by
whichever answers the next request): registration of a passkey, passwordless login, the
passkey as second factor after a password, a replayed assertion refused, an assertion made
by Chromium on another origin refused, and — with the credential's own private key taken
from the authenticator — well-signed assertions for another RP ID or origin refused while
their correct twin is accepted.
"""

import pytest

from tests.support.browser import PASSWORD, browser, server  # noqa: F401  (fixtures)
from tests.mfa.webauthn_browser_support import VirtualAuthenticator, call, localhost_url, other_origin

pytestmark = pytest.mark.browser

PASSKEY_BEGIN = "/api/auth/passkey/login/begin/"
PASSKEY_COMPLETE = "/api/auth/passkey/login/complete/"


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=localhost_url(server))
    page = context.new_page()
    page.goto("/api/public/")  # a document of the service's origin: fetch() and WebAuthn from there
    yield page
    context.close()


def signed_up_with_passkey(server, page, username):
    """A new account that added a passkey in Chromium; (authenticator, access token, key id)."""
    server.register(username)
    status, tokens = call(page, "POST", "/api/auth/login/", {"username": username, "password": PASSWORD})
    assert status == 200, tokens
    authenticator = VirtualAuthenticator(page)
    status, begin = call(page, "POST", "/api/auth/mfa/webauthn/register/begin/", {}, tokens["access"])
    assert status == 200, begin
    credential = authenticator.create(begin["publicKey"])
    status, added = call(
        page,
        "POST",
        "/api/auth/mfa/webauthn/register/complete/",
        {"credential": credential, "name": "Chromium"},
        tokens["access"],
    )
    assert status == 201, added
    return authenticator, tokens["access"], added["id"]


def passkey_assertion(page, authenticator):
    status, begin = call(page, "POST", PASSKEY_BEGIN, {})
    assert status == 200 and begin["publicKey"]["allowCredentials"] == []
    return begin["challenge_id"], authenticator.get(begin["publicKey"])


def test_a_passkey_registered_in_chromium_signs_in_without_a_password(server, page):
    authenticator, access, key_id = signed_up_with_passkey(server, page, "ada")
    (held,) = authenticator.credentials()
    assert held["isResidentCredential"]  # a discoverable credential: a passkey

    challenge_id, assertion = passkey_assertion(page, authenticator)
    status, body = call(page, "POST", PASSKEY_COMPLETE, {"challenge_id": challenge_id, "credential": assertion})
    assert status == 200, body
    assert body["user"]["username"] == "ada" and body["access"] and body["refresh"]
    status, sessions = call(page, "GET", "/api/auth/sessions/", None, body["access"])
    current = next(s for s in sessions if s["current"])
    assert {"hwk", "user", "mfa"} <= set(current["amr"])
    status, state = call(page, "GET", "/api/auth/mfa/", None, body["access"])
    assert [(m["type"], m["id"], m["name"]) for m in state["methods"]] == [("webauthn", key_id, "Chromium")]


def test_a_replayed_assertion_is_refused(server, page):
    authenticator, _access, _key = signed_up_with_passkey(server, page, "grace")
    challenge_id, assertion = passkey_assertion(page, authenticator)
    body = {"challenge_id": challenge_id, "credential": assertion}
    assert call(page, "POST", PASSKEY_COMPLETE, body)[0] == 200
    status, refused = call(page, "POST", PASSKEY_COMPLETE, body)
    assert status == 401 and refused["code"] == "invalid_credentials"
    # Under a fresh challenge id too: the challenge inside the signed data is spent.
    status, begin = call(page, "POST", PASSKEY_BEGIN, {})
    status, refused = call(page, "POST", PASSKEY_COMPLETE, {**body, "challenge_id": begin["challenge_id"]})
    assert status == 401 and refused["code"] == "invalid_credentials"


def test_the_passkey_is_the_second_factor_of_a_password_login(server, page):
    authenticator, _access, _key = signed_up_with_passkey(server, page, "hedy")
    status, first = call(page, "POST", "/api/auth/login/", {"username": "hedy", "password": PASSWORD})
    assert status == 403 and first["code"] == "mfa_required" and "webauthn" in first["methods"]
    assertion = authenticator.get(first["webauthn"]["publicKey"])
    status, body = call(
        page, "POST", "/api/auth/mfa/verify/", {"mfa_token": first["mfa_token"], "credential": assertion}
    )
    assert status == 200, body
    status, sessions = call(page, "GET", "/api/auth/sessions/", None, body["access"])
    assert {"pwd", "hwk", "mfa"} <= set(next(s for s in sessions if s["current"])["amr"])


def test_an_assertion_made_on_another_origin_is_refused(server, page):
    authenticator, _access, _key = signed_up_with_passkey(server, page, "radia")
    status, begin = call(page, "POST", PASSKEY_BEGIN, {})
    with other_origin() as elsewhere:
        page.goto(elsewhere)  # same host name (RP ID "localhost"), another port: another origin
        assertion = authenticator.get(begin["publicKey"])
    status, body = server.api(
        "POST", PASSKEY_COMPLETE, {"challenge_id": begin["challenge_id"], "credential": assertion}
    )
    assert status == 401 and body["code"] == "invalid_credentials"
    page.goto("/api/public/")  # the same key, on the service's own origin: accepted
    challenge_id, assertion = passkey_assertion(page, authenticator)
    assert call(page, "POST", PASSKEY_COMPLETE, {"challenge_id": challenge_id, "credential": assertion})[0] == 200


def test_a_well_signed_assertion_for_another_rp_id_or_origin_is_refused(server, page):
    authenticator, _access, _key = signed_up_with_passkey(server, page, "frances")
    forger = authenticator.software_copy()  # Chromium's private key for this credential
    origin = localhost_url(server)

    def attempt(**shape):
        status, begin = call(page, "POST", PASSKEY_BEGIN, {})
        assertion = forger.get(begin["publicKey"], **{"origin": origin, **shape})
        return call(page, "POST", PASSKEY_COMPLETE, {"challenge_id": begin["challenge_id"], "credential": assertion})

    start = forger.sign_count
    status, body = attempt(sign_count=start + 5)  # the forged assertion in the right shape: accepted
    assert status == 200, body
    assert attempt(rp_id="evil.localhost", sign_count=start + 6)[0] == 401
    assert attempt(origin="https://evil.example", sign_count=start + 7)[0] == 401
    assert attempt(sign_count=start + 5)[0] == 401  # a counter that did not move: a cloned key
    assert attempt(sign_count=start + 8)[0] == 200
