"""
The JWT attack suite: every classic way of
forging or bending a token, each answered 401 `token_not_valid` with the documented `reason`.

Forged tokens are built by hand (base64url + HMAC/RSA from the standard library and
`cryptography`) so that an attack PyJWT itself would refuse to *produce* can still be
sent. Each forgery starts from the claims of a real, live session, so the only thing
wrong with it is the attack under test; `test_forgery_helper_signs_like_the_server` shows
that the same helper with the server's own key is accepted.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.test import override_settings

from authgate import tokens

from ..conftest import bearer

pytestmark = pytest.mark.portable

PROTECTED = "/api/protected/"


# -- forging helpers ---------------------------------------------------------------------
def b64url(data):
    if not isinstance(data, bytes):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified(token):
    """(header, claims) of a token, without checking anything."""
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def forge_hmac(header, claims, key):
    key = key.encode() if isinstance(key, str) else key
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def forge_rsa(header, claims, private_key):
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def server_key():
    """The HMAC secret the server signs with (SIGNING_KEY, else SECRET_KEY)."""
    return tokens.get_codec().signing_key


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_pair(private_key):
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def public_jwk(private_key):
    numbers = private_key.public_key().public_numbers()

    def encode_int(value):
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "e": encode_int(numbers.e), "n": encode_int(numbers.n)}


def assert_rejected(response, reason):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["code"] == "token_not_valid", body
    assert body["reason"] == reason, body
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    """Passwords are not under test here: a cheap hasher keeps the many logins fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def live(user, tokens_for):
    """A real session of `alice`: its token pair and the access token's header and claims."""
    pair = tokens_for(user)
    header, claims = unverified(pair["access"])
    return {"access": pair["access"], "refresh": pair["refresh"], "header": header, "claims": claims}


def get(api_client, token):
    return api_client.get(PROTECTED, **bearer(token))


# -- the baseline --------------------------------------------------------------------------
def test_forgery_helper_signs_like_the_server(api_client, live):
    """Re-signing a live session's own claims with the server's key is accepted: so each
    rejection below is caused by the attack, not by a broken helper."""
    token = forge_hmac(live["header"], live["claims"], server_key())
    assert get(api_client, token).status_code == 200
    assert get(api_client, live["access"]).status_code == 200


# -- algorithm attacks ---------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_casing_is_malformed(api_client, live, alg):
    for signature in ("", "x", "AAAA", live["access"].split(".")[2]):
        token = f"{b64url({'alg': alg, 'typ': 'JWT'})}.{b64url(live['claims'])}.{signature}"
        assert_rejected(get(api_client, token), "malformed")


@pytest.mark.parametrize("strip", ["empty signature", "no signature segment"])
def test_stripped_signature_is_malformed(api_client, live, strip):
    header_b64, payload_b64, _ = live["access"].split(".")
    token = f"{header_b64}.{payload_b64}." if strip == "empty signature" else f"{header_b64}.{payload_b64}"
    assert_rejected(get(api_client, token), "malformed")


def test_signature_from_another_key_is_malformed(api_client, live):
    token = forge_hmac(live["header"], live["claims"], "attacker-secret-" + "x" * 48)
    assert_rejected(get(api_client, token), "malformed")


def test_tampered_claims_under_the_original_signature_are_malformed(api_client, live, staff_user):
    """Privilege escalation by editing `sub` to the staff user's id, keeping the signature."""
    header_b64, _, signature = live["access"].split(".")
    claims = {**live["claims"], "sub": str(staff_user.pk)}
    token = f"{header_b64}.{b64url(claims)}.{signature}"
    assert_rejected(get(api_client, token), "malformed")


# The database check binds a token to a live session of its `sub`; the Redis fast path
# trusts the signature for that (SECURITY.md, "A leaked signing key"). These two tests
# pin the database store so that they state its guarantee in every test pass.
DATABASE_STORE = {"REVOCATION_STORE": "authgate.revocation.DatabaseRevocationStore"}


@override_settings(AUTHGATE=DATABASE_STORE)
def test_a_real_signature_on_claims_naming_another_users_session_is_revoked(api_client, live, staff_user):
    """Even with the signing key, a token is only good for the session it names and that
    session's owner: moving a live `sid` to another `sub` is refused."""
    claims = {**live["claims"], "sub": str(staff_user.pk)}
    assert_rejected(get(api_client, forge_hmac(live["header"], claims, server_key())), "revoked")


@pytest.fixture
def rs256(user, tokens_for):
    """RS256 configured; a live session whose tokens are RS256-signed."""
    private_key = rsa_key()
    private_pem, public_pem = pem_pair(private_key)
    conf = {"ALGORITHM": "RS256", "SIGNING_KEY": private_pem, "VERIFYING_KEY": public_pem}
    with override_settings(AUTHGATE=conf):
        pair = tokens_for(user)
        header, claims = unverified(pair["access"])
        assert header["alg"] == "RS256"
        yield {
            "private_key": private_key,
            "public_pem": public_pem,
            "access": pair["access"],
            "header": header,
            "claims": claims,
        }


def test_rs256_tokens_signed_with_the_configured_key_are_accepted(api_client, rs256):
    assert get(api_client, rs256["access"]).status_code == 200
    token = forge_rsa(rs256["header"], rs256["claims"], rs256["private_key"])
    assert get(api_client, token).status_code == 200


@pytest.mark.parametrize("with_kid", [True, False])
def test_algorithm_confusion_hs256_signed_with_the_rsa_public_key_is_malformed(api_client, rs256, with_kid):
    """The classic confusion: the attacker HMACs the token with the (public) RSA key as
    secret and says `alg: HS256`, hoping the server verifies HMAC with its 'key'."""
    header = {"alg": "HS256", "typ": "JWT"}
    if with_kid and "kid" in rs256["header"]:
        header["kid"] = rs256["header"]["kid"]
    for key in (rs256["public_pem"], rs256["public_pem"].strip()):
        token = forge_hmac(header, rs256["claims"], key)
        assert_rejected(get(api_client, token), "malformed")


def test_algorithm_confusion_under_eddsa_is_malformed(api_client, user, tokens_for):
    """The same confusion with an Ed25519 key: HMAC over the public PEM, or the public key's
    raw bytes, labelled HS256 — and `alg: none` keeping the real kid."""
    private_key = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = pem_pair(private_key)
    raw_public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with override_settings(AUTHGATE={"ALGORITHM": "EdDSA", "SIGNING_KEY": private_pem, "VERIFYING_KEY": public_pem}):
        pair = tokens_for(user)
        header, claims = unverified(pair["access"])
        assert header["alg"] == "EdDSA"
        assert get(api_client, pair["access"]).status_code == 200
        confused = {**header, "alg": "HS256"}
        for key in (public_pem, raw_public):
            assert_rejected(get(api_client, forge_hmac(confused, claims, key)), "malformed")
        token = f"{b64url({**header, 'alg': 'none'})}.{b64url(claims)}."
        assert_rejected(get(api_client, token), "malformed")


def test_rs256_token_from_an_attacker_key_with_an_embedded_jwk_is_malformed(api_client, rs256):
    attacker = rsa_key()
    for kid in filter(None, [rs256["header"].get("kid"), "attacker"]):
        header = {"alg": "RS256", "typ": "JWT", "kid": kid, "jwk": public_jwk(attacker)}
        assert_rejected(get(api_client, forge_rsa(header, rs256["claims"], attacker)), "malformed")


def test_rs256_token_on_an_hs256_server_is_malformed(api_client, live):
    """The reverse confusion: an RS256 token (from an attacker key) on an HMAC server."""
    attacker = rsa_key()
    header = {"alg": "RS256", "typ": "JWT", "jwk": public_jwk(attacker)}
    assert_rejected(get(api_client, forge_rsa(header, live["claims"], attacker)), "malformed")


# -- header injection ----------------------------------------------------------------------
KID_INJECTIONS = [
    "../../dev/null",
    "../../../../../../etc/passwd",
    "/dev/null",
    "' OR '1'='1",
    '" OR ""="',
    "x'; DROP TABLE authgate_session; --",
    "1 UNION SELECT 'secret'",
    "|cat /etc/passwd",
    "\x00",
    "k" * 5000,
    123,
    ["a"],
    {"kid": "nested"},
    None,
]


@pytest.mark.parametrize("kid", KID_INJECTIONS, ids=lambda kid: repr(kid)[:30])
def test_kid_injection_is_malformed(api_client, live, kid):
    """Path traversal (`../../dev/null` + an empty HMAC key is the textbook exploit), quotes
    and SQL never reach a file or a query: an unknown kid is simply refused. (A null kid is
    "no kid", judged by its signature alone: the server-key variant of it is the valid
    token of `test_forgery_helper_signs_like_the_server`.)"""
    header = {**live["header"], "kid": kid}
    for key in ([server_key()] if kid is not None else []) + [b"", b"\n", "/dev/null"]:
        assert_rejected(get(api_client, forge_hmac(header, live["claims"], key)), "malformed")


@override_settings(AUTHGATE={"SIGNING_KEY_ID": "k1"})
def test_kid_injection_is_malformed_when_kids_are_in_use(api_client, user, tokens_for):
    pair = tokens_for(user)
    header, claims = unverified(pair["access"])
    assert header["kid"] == "k1"
    assert get(api_client, pair["access"]).status_code == 200
    for kid in ("k1/../k1", "../k1", "k1'", "K1", "k1\x00", " k1"):
        token = forge_hmac({**header, "kid": kid}, claims, server_key())
        assert_rejected(get(api_client, token), "malformed")


class _JwksServer:
    """A local attacker "key server" (127.0.0.1 only) that counts every request it gets."""

    def __init__(self, jwks):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                hits.append(self.path)
                body = json.dumps(jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("alg", ["RS256", "HS256"])
def test_jku_x5u_jwk_headers_are_ignored(api_client, live, alg):
    """A token signed with the attacker's key, pointing at the attacker's keys by URL
    (`jku`, `x5u`) and embedding them (`jwk`): refused, and no key is ever fetched."""
    attacker = rsa_key()
    jwk = {**public_jwk(attacker), "kid": "attacker", "alg": "RS256", "use": "sig"}
    with _JwksServer({"keys": [jwk]}) as key_server:
        header = {
            "alg": alg,
            "typ": "JWT",
            "kid": "attacker",
            "jku": f"{key_server.url}/jwks.json",
            "x5u": f"{key_server.url}/cert.pem",
            "jwk": jwk,
        }
        if alg == "RS256":
            token = forge_rsa(header, live["claims"], attacker)
        else:
            token = forge_hmac(header, live["claims"], "attacker-secret-" + "y" * 48)
        assert_rejected(get(api_client, token), "malformed")
        header.pop("kid")  # no kid: the server's default key is tried, and still refuses
        token = (
            forge_rsa(header, live["claims"], attacker)
            if alg == "RS256"
            else forge_hmac(header, live["claims"], "attacker-secret-" + "y" * 48)
        )
        assert_rejected(get(api_client, token), "malformed")
        assert key_server.hits == []


# -- time claims ---------------------------------------------------------------------------
def _with(live, **changes):
    claims = {**live["claims"], **changes}
    return forge_hmac(live["header"], {k: v for k, v in claims.items() if v is not None}, server_key())


def test_exp_past_the_leeway_is_expired(api_client, live):
    now = int(time.time())
    assert_rejected(get(api_client, _with(live, iat=now - 600, exp=now - 60)), "expired")


def test_exp_just_inside_the_leeway_is_still_accepted(api_client, live):
    """LEEWAY (5 s) tolerates clock skew between servers; 60 s (above) is not skew."""
    now = int(time.time())
    assert get(api_client, _with(live, iat=now - 600, exp=now - 2)).status_code == 200


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_nbf_or_iat_in_the_future_is_malformed(api_client, live, claim):
    """A token 'from the future' is not valid yet; PyJWT reports both as immature, which
    the documented vocabulary calls `malformed` (it does not verify), not `expired`."""
    future = int(time.time()) + 3600
    assert_rejected(get(api_client, _with(live, **{claim: future, "exp": future + 900})), "malformed")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "sid", "gen", "type"])
def test_missing_required_claim_is_malformed(api_client, live, claim):
    claims = {k: v for k, v in live["claims"].items() if k != claim}
    assert_rejected(get(api_client, forge_hmac(live["header"], claims, server_key())), "malformed")


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "id"},
        {"type": None},
        {"gen": "one"},
        {"sid": "not-a-uuid"},
        {"sid": 12},
        {"sub": 1},
        {"exp": "tomorrow"},
        {"iat": "now"},
    ],
    ids=str,
)
def test_ill_typed_claims_are_malformed(api_client, live, changes):
    assert_rejected(get(api_client, _with(live, **changes)), "malformed")


# -- issuer and audience -------------------------------------------------------------------
ISS_AUD = {"ISSUER": "https://auth.example.test", "AUDIENCE": "api.example.test"}


@override_settings(AUTHGATE=ISS_AUD)
def test_iss_and_aud_are_enforced_when_configured(api_client, user, tokens_for):
    pair = tokens_for(user)
    header, claims = unverified(pair["access"])
    assert (claims["iss"], claims["aud"]) == (ISS_AUD["ISSUER"], ISS_AUD["AUDIENCE"])
    assert get(api_client, pair["access"]).status_code == 200
    key = server_key()
    for changes in (
        {"iss": "https://evil.example.test"},
        {"aud": "another-api"},
        {"aud": ["another-api"]},
        {"iss": ISS_AUD["ISSUER"] + "/"},
        {"aud": ""},
    ):
        assert_rejected(get(api_client, forge_hmac(header, {**claims, **changes}, key)), "malformed")
    for missing in ("iss", "aud"):
        without = {k: v for k, v in claims.items() if k != missing}
        assert_rejected(get(api_client, forge_hmac(header, without, key)), "malformed")


def test_tokens_of_another_issuer_config_are_refused_after_iss_is_set(api_client, live):
    """A token minted before ISSUER was configured lacks `iss`: refused once it is required."""
    with override_settings(AUTHGATE=ISS_AUD):
        assert_rejected(get(api_client, live["access"]), "malformed")


# -- type, user, and size ------------------------------------------------------------------
def test_refresh_token_as_access_token_is_wrong_type(api_client, live):
    assert_rejected(get(api_client, live["refresh"]), "wrong_type")


def test_access_token_as_refresh_token_is_wrong_type(api_client, live):
    response = api_client.post("/api/auth/token/refresh/", {"refresh": live["access"]}, format="json")
    assert_rejected(response, "wrong_type")
    # ...and the session was not touched: the real refresh token still rotates.
    response = api_client.post("/api/auth/token/refresh/", {"refresh": live["refresh"]}, format="json")
    assert response.status_code == 200


def test_relabelled_type_claim_is_refused(api_client, live):
    """Rewriting `type: refresh` to `access` breaks the signature."""
    header_b64, payload_b64, signature = live["refresh"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    token = f"{header_b64}.{b64url({**claims, 'type': 'access'})}.{signature}"
    assert_rejected(get(api_client, token), "malformed")


def test_token_of_a_deleted_user_is_revoked(api_client, user, live):
    user.delete()
    assert_rejected(get(api_client, live["access"]), "revoked")
    response = api_client.post("/api/auth/token/refresh/", {"refresh": live["refresh"]}, format="json")
    assert_rejected(response, "revoked")


def test_token_of_a_deactivated_user_is_user_inactive(api_client, user, live):
    user.is_active = False
    user.save()
    assert_rejected(get(api_client, live["access"]), "user_inactive")


@override_settings(AUTHGATE=DATABASE_STORE)
def test_token_for_a_session_that_never_existed_is_revoked(api_client, live):
    """With the signing key but without a live session id, nothing can be forged."""
    claims = {**live["claims"], "sid": "0" * 32}
    assert_rejected(get(api_client, forge_hmac(live["header"], claims, server_key())), "revoked")


def test_a_100_kb_token_is_answered_4xx_json(api_client, live):
    huge = live["access"] + "A" * 100_000
    assert_rejected(get(api_client, huge), "malformed")
    for path, field in (
        ("/api/auth/token/refresh/", "refresh"),
        ("/api/auth/token/verify/", "token"),
        ("/api/auth/logout/", "refresh"),
    ):
        response = api_client.post(path, {field: huge}, format="json")
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response["Content-Type"].startswith("application/json")
        assert isinstance(response.json(), dict)
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION="Token " + "k" * 100_000)
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("param", ["token", "access", "access_token", "jwt", "authorization"])
def test_tokens_are_never_read_from_the_query_string(api_client, live, param):
    response = api_client.get(f"{PROTECTED}?{param}={live['access']}")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# -- the header read to pick the key, and minting ------------------------------------------
@pytest.mark.parametrize(
    "header",
    [b"[]", b'"HS256"', b"null", b"[" * 3000, b"\xff\xfe{}", b"{not json"],
    ids=["array", "string", "null", "deep-nesting", "not-utf8", "not-json"],
)
def test_a_header_that_is_not_a_json_object_is_malformed(api_client, live, header):
    _header, claims, signature = live["access"].split(".")
    assert_rejected(get(api_client, f"{b64url(header)}.{claims}.{signature}"), "malformed")


def test_a_header_that_is_not_base64url_is_malformed(api_client, live):
    _header, claims, signature = live["access"].split(".")
    for header in ("!!!!", "é" * 8, ""):
        assert_rejected(get(api_client, f"{header}.{claims}.{signature}"), "malformed")


def _minting_configurations():
    rsa_private, rsa_public = pem_pair(rsa_key())
    ed_private, ed_public = pem_pair(ed25519.Ed25519PrivateKey.generate())
    return {
        "hs256": ({}, None),
        "hs512-with-kid": ({"ALGORITHM": "HS512", "SIGNING_KEY": "s" * 64, "SIGNING_KEY_ID": "k1"}, "s" * 64),
        "rs256": ({"ALGORITHM": "RS256", "SIGNING_KEY": rsa_private, "VERIFYING_KEY": rsa_public}, rsa_private),
        "eddsa": ({"ALGORITHM": "EdDSA", "SIGNING_KEY": ed_private, "VERIFYING_KEY": ed_public}, ed_private),
    }


@pytest.mark.parametrize("name", ["hs256", "hs512-with-kid", "rs256", "eddsa"])
def test_minted_tokens_are_the_bytes_jwt_encode_gives(db, name):
    """The codec signs with a key prepared once; the tokens are exactly PyJWT's, so a
    server that still mints with `jwt.encode` answers a retry with the same bytes."""
    conf, key = _minting_configurations()[name]
    with override_settings(AUTHGATE=conf):
        codec = tokens.get_codec()
        payload = {"type": "access", "sub": "7", "sid": "ab" * 16, "gen": 3, "iat": 1, "exp": 2, "amr": ["pwd"]}
        expected = jwt.encode(dict(payload), key or codec.signing_key, algorithm=codec.algorithm, headers=codec.headers)
        assert codec.encode(dict(payload)) == expected
