"""
Fuzzing: whatever a client sends, the answer is never a 500 and always the
JSON error contract.

- Hypothesis properties for token parsing: arbitrary strings, JWT-shaped garbage, and
  tokens *correctly signed* over arbitrary claims (what a holder of the key, or a bug in
  our own minting, could produce) only ever raise `TokenError` with a documented reason.
- Every operation of our own OpenAPI schema (read at collection time, so a new endpoint is
  fuzzed without touching this file) gets arbitrary JSON bodies — random documents, and
  objects of its own field names with hostile values and real tokens — arbitrary raw
  bytes under several content types, and every kind of credential (none, Bearer, static
  Token, cookie, garbage).
- schemathesis against `/api/schema/`, in-process through the WSGI application: no server
  errors, and status codes, content types, headers and bodies as the schema documents
  them. Bounded: a few examples per operation.

Passwords are hashed with MD5 here: hashing is not what is fuzzed, and Argon2 would make
every login example cost ~0.1 s.
"""

import base64
import hashlib
import hmac
import json
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings, strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authgate import sessions, static_tokens, tokens
from authgate.tokens import ACCESS, REFRESH, TokenError

pytestmark = pytest.mark.single_pass

REASONS = {"malformed", "expired", "revoked", "wrong_type", "user_inactive"}


def fuzz(max_examples):
    """Hypothesis settings of this module: bounded, no deadline (the machine is shared), no
    example database written into the work tree."""
    return settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# -- strategies ------------------------------------------------------------------------------
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=64)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
jwt_like = st.builds(
    lambda header, payload, signature: ".".join(
        [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)]
    ),
    json_values,
    json_values,
    st.binary(max_size=64),
)
segments = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/", max_size=40),
    min_size=1,
    max_size=6,
).map(".".join)
token_strings = st.one_of(st.text(max_size=300), jwt_like, segments, st.just("A" * 5000))

# Placeholders replaced, per example, with a real credential of the fuzzing user.
MARKS = ["<access>", "<refresh>", "<static>", "<session-id>", "<user-id>"]
field_values = st.one_of(json_values, token_strings, st.sampled_from(MARKS))


# -- the fuzzing user and its credentials ----------------------------------------------------
class Credentials:
    """A staff user with a fresh session and static token for every example."""

    def __init__(self, django_user_model):
        self.user = django_user_model.objects.filter(username="fuzzer").first()
        if self.user is None:
            self.user = django_user_model.objects.create_user(
                "fuzzer", "fuzzer@example.com", "fuzz-Passphrase-1234", is_staff=True
            )
        session, pair = sessions.open_session(self.user)
        self.values = {
            "<access>": pair.access,
            "<refresh>": pair.refresh,
            "<static>": static_tokens.create_token(self.user, name="fuzz")[1],
            "<session-id>": str(session.pk),
            "<user-id>": self.user.pk,
        }

    def substitute(self, value):
        if isinstance(value, str) and value in self.values:
            return self.values[value]
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value

    def auth(self, kind, client):
        """Request kwargs carrying one kind of credential."""
        if kind == "bearer":
            return {"HTTP_AUTHORIZATION": f"Bearer {self.values['<access>']}"}
        if kind == "static":
            return {"HTTP_AUTHORIZATION": f"Token {self.values['<static>']}"}
        if kind == "refresh-as-bearer":
            return {"HTTP_AUTHORIZATION": f"Bearer {self.values['<refresh>']}"}
        if kind == "cookie":
            client.cookies["authgate_access"] = self.values["<access>"]
            client.cookies["authgate_refresh"] = self.values["<refresh>"]
        return {}


AUTH_KINDS = ["none", "bearer", "static", "cookie", "refresh-as-bearer"]
auth_headers = st.one_of(
    st.sampled_from(AUTH_KINDS),
    st.builds(
        lambda scheme, value: ("raw", f"{scheme}{value}"),
        st.sampled_from(["Bearer ", "bearer ", "Token ", "Basic ", "", "Bearer  ", "JWT "]),
        token_strings.filter(lambda s: "\n" not in s and "\r" not in s),
    ),
)


def apply_auth(credentials, kind, client):
    if isinstance(kind, tuple):
        return {"HTTP_AUTHORIZATION": kind[1]}
    return credentials.auth(kind, client)


# -- the contract ----------------------------------------------------------------------------
def assert_contract(response, what):
    status = response.status_code
    assert status < 500, (what, status, response.content[:500])
    if status == 204:
        assert response.content == b"", what
        return
    assert response["Content-Type"].startswith("application/json"), (what, status, response["Content-Type"])
    body = json.loads(response.content)
    if status < 400:
        assert isinstance(body, (dict, list)), what
        return
    assert isinstance(body, dict) and body, (what, body)
    # An error names itself with a string `code` (a field called `code`, such as a second
    # factor's, has the validation shape: a list of messages).
    if "detail" in body or isinstance(body.get("code"), str):
        assert isinstance(body.get("detail"), str) and isinstance(body.get("code"), str), (what, body)
        if body["code"] == "token_not_valid" and status == 401:
            assert body["reason"] in REASONS, (what, body)
        if status == 401:
            assert response.has_header("WWW-Authenticate"), what
        if status == 429:
            assert int(response["Retry-After"]) > 0, what
    else:  # DRF's validation shape: {"field": ["message", ...]} (nested for nested input)
        assert all(isinstance(v, (list, dict)) for v in body.values()), (what, body)


# -- token parsing ---------------------------------------------------------------------------
@fuzz(200)
@given(raw=token_strings, expected=st.sampled_from([ACCESS, REFRESH]))
def test_decoding_arbitrary_strings_only_raises_token_error(raw, expected):
    tokens.reset_codec()
    with pytest.raises(TokenError) as caught:
        tokens.get_codec().decode(raw, expected)
    assert caught.value.reason in REASONS


claim_values = st.one_of(json_values, st.integers(min_value=-(2**63), max_value=2**63), st.text(max_size=40))


@pytest.mark.django_db
@fuzz(100)
@given(data=st.data())
def test_correctly_signed_arbitrary_claims_never_crash_authentication(data, django_user_model):
    """A token signed with the server's key but carrying anything at all in its claims:
    `authenticate_access` answers a user or a TokenError, never another exception."""
    credentials = Credentials(django_user_model)
    real = json.loads(base64.urlsafe_b64decode(credentials.values["<access>"].split(".")[1] + "=="))
    claims = dict(real)
    for name in data.draw(st.lists(st.sampled_from(sorted(real) + ["nbf", "aud", "iss", "extra"]), max_size=4)):
        if data.draw(st.booleans()):
            claims.pop(name, None)
        else:
            claims[name] = data.draw(claim_values)
    header = data.draw(
        st.fixed_dictionaries(
            {"alg": st.just("HS256")},
            optional={"kid": json_values, "typ": json_values, "jku": st.text(max_size=30), "crit": json_values},
        )
    )
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    key = tokens.get_codec().signing_key.encode()
    raw = f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"
    try:
        user, context = sessions.authenticate_access(raw)
    except TokenError as error:
        assert error.reason in REASONS
    else:
        assert user == credentials.user
        # The database check proves the session exists and belongs to `sub`; the session
        # cache only holds sessions read that way, for that user and that spelling of the id.
        assert context.session_id == real["sid"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["/api/protected/", "/api/ninja/protected/", "/api/plain/protected/"])
@fuzz(60)
@given(auth=auth_headers)
def test_any_authorization_header_gets_json_401_or_200(auth, route, django_user_model):
    client = APIClient()
    credentials = Credentials(django_user_model)
    response = client.get(route, **apply_auth(credentials, auth, client))
    assert_contract(response, auth)
    assert response.status_code in (200, 401)
    if response.status_code == 401:
        assert response.json()["code"] in {"not_authenticated", "token_not_valid", "authentication_failed"}


# -- every operation of the schema, every body ---------------------------------------------
def _operations():
    """(method, path template, body field names, path parameters) of every schema operation."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            fields = set()
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                fields |= set(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
            params = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p["in"] == "path"}
            found.append((method, path, sorted(fields), params))
    return found


OPERATIONS = _operations()


def _path_value(schema):
    if schema.get("format") == "uuid":
        return st.one_of(st.just("<session-id>"), st.uuids().map(str))
    if schema.get("type") == "integer":
        return st.one_of(st.just("<user-id>"), st.integers(min_value=0, max_value=2**31 - 1))
    return st.text(alphabet="abcdef0123456789", min_size=1, max_size=20)


def _bodies(fields):
    named = (
        st.fixed_dictionaries({}, optional={f: field_values for f in fields})
        if fields
        else st.dictionaries(st.text(max_size=12), field_values, max_size=3)
    )
    return st.one_of(
        named,
        json_values,
        st.dictionaries(st.sampled_from(fields or ["x"]) | st.text(max_size=12), field_values, max_size=5),
    )


def test_the_schema_lists_the_operations_we_fuzz():
    paths = {path for _, path, _, _ in OPERATIONS}
    assert {
        "/api/auth/login/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/auth/register/",
        "/api/auth/password/change/",
        "/api/auth/tokens/",
        "/api/protected/",
    } <= paths


@pytest.mark.django_db
@pytest.mark.parametrize("method,path,fields,params", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _, _ in OPERATIONS])
@fuzz(20)
@given(data=st.data())
def test_every_operation_answers_any_json_body_with_the_contract(data, method, path, fields, params, django_user_model):
    credentials = Credentials(django_user_model)
    client = APIClient()
    url = path
    for name, schema in params.items():
        url = url.replace("{" + name + "}", str(credentials.substitute(data.draw(_path_value(schema)))))
    body = credentials.substitute(data.draw(_bodies(fields), label="body"))
    auth = apply_auth(credentials, data.draw(auth_headers, label="auth"), client)
    response = client.generic(method.upper(), url, json.dumps(body), content_type="application/json", **auth)
    assert_contract(response, (method, url, body))


CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/json; charset=latin-1",
    "",
]
BODY_OPERATIONS = [(m, p) for m, p, fields, params in OPERATIONS if fields and not params]


@pytest.mark.django_db
@pytest.mark.parametrize("method,path", BODY_OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in BODY_OPERATIONS])
@fuzz(10)
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.just(b"{" * 5000),
        st.just(b'{"a":' * 2000),
    ),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_every_operation_answers_any_raw_body_with_the_contract(raw, content_type, method, path, django_user_model):
    credentials = Credentials(django_user_model)
    client = APIClient()
    response = client.generic(
        method.upper(), path, raw, content_type=content_type, **credentials.auth("bearer", client)
    )
    assert_contract(response, (method, path, content_type, raw[:60]))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/auth/login/", "/api/auth/register/", "/api/auth/token/refresh/", "/api/auth/revoke/"]
)
@pytest.mark.parametrize("nesting", [b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 100_000 + b"]" * 100_000])
def test_deeply_nested_json_is_a_400_not_a_500(api_client, path, nesting):
    """Found by the fuzzer: DRF's JSON parser let Python's RecursionError escape as a 500
    (a few kilobytes of `[[[[` per request, and a stack trace in the log each time)."""
    response = api_client.generic("POST", path, nesting, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "parse_error"


# -- schemathesis ----------------------------------------------------------------------------
def _wsgi_app():
    from server.wsgi import application

    return application


api_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", _wsgi_app())
# Not `negative_data_rejection`: DRF's CharField accepts a JSON number as its string (a
# documented leniency: `{"username": 123}` is the username "123"), which that check
# counts as schema-invalid data accepted. Nor `positive_data_acceptance`: schema-valid is
# not acceptable when Django's password validators or a uniqueness rule say no.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _keep_test_connection():
    """The WSGI handler closes the database connection after each request, which would
    close the test's transaction; Django's own test client disconnects the same signals."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@api_schema.parametrize()
@fuzz(8)
def test_schemathesis_the_api_conforms_to_its_schema(case, django_user_model, _keep_test_connection):
    """Authenticated as a staff user (a fresh session each example, so that one example
    logging out cannot starve the others). Path ids the generator invents are replaced by
    real ones half of the time, so that the 2xx answers are exercised too."""
    credentials = Credentials(django_user_model)
    if case.path_parameters:
        for name, value in list(case.path_parameters.items()):
            if "session" in name and isinstance(value, str) and sum(map(ord, value)) % 2:
                case.path_parameters[name] = credentials.values["<session-id>"]
    headers = {"Authorization": f"Bearer {credentials.values['<access>']}"}
    if case.path.endswith("/introspect/"):
        headers = {"Authorization": f"Token {credentials.values['<static>']}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
