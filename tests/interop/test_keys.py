"""Asymmetric signing (RS256, EdDSA), the JWKS, key rotation, and what must never verify."""

import hashlib
import hmac
import io
import json
import os
import time

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from authgate import keys, sessions, tokens
from authgate.models import Session

from ..conftest import bearer
from ..support.interop import (
    PRIVATE_MEMBERS,
    asymmetric,
    authgate_settings,
    b64,
    fast_password_hashing,  # noqa: F401 (autouse fixture)
    key,
    pem,
    public_pem,
    unverified_parts,
)

JWKS = "/api/auth/.well-known/jwks.json"


def _protected(api_client, access):
    return api_client.get("/api/protected/", **bearer(access))


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_asymmetric_tokens_mint_verify_and_remint_identically(algorithm, settings, api_client, user, tokens_for):
    settings.AUTHGATE = asymmetric(algorithm)
    body = tokens_for(user)
    header, payload = unverified_parts(body["access"])
    assert header["alg"] == algorithm
    assert header["kid"] == keys.thumbprint(key(algorithm).public_key())
    assert payload["type"] == "access"
    assert _protected(api_client, body["access"]).status_code == 200

    # Deterministic signatures: presenting the just-spent refresh token inside the retry
    # window gives the very same pair, byte for byte.
    first = api_client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json")
    again = api_client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert _protected(api_client, first.json()["access"]).status_code == 200
    assert (
        api_client.post("/api/auth/token/verify/", {"token": first.json()["refresh"]}, format="json").status_code == 200
    )


def test_signing_key_file_and_explicit_kid(settings, api_client, user, tokens_for, tmp_path):
    key_file = tmp_path / "signing.pem"
    key_file.write_text(pem(key("EdDSA")))
    settings.AUTHGATE = authgate_settings(ALGORITHM="EdDSA", SIGNING_KEY_FILE=str(key_file), SIGNING_KEY_ID="2026-a")
    access = tokens_for(user)["access"]
    assert unverified_parts(access)[0]["kid"] == "2026-a"
    assert _protected(api_client, access).status_code == 200
    assert [k["kid"] for k in api_client.get(JWKS).json()["keys"]] == ["2026-a"]


def test_jwks_has_current_and_previous_keys_and_no_private_member(settings, api_client):
    old = key("RS256", 1)
    settings.AUTHGATE = asymmetric(
        "RS256", VERIFYING_KEYS={"old-rsa": public_pem(old), "old-ed": public_pem(key("EdDSA", 1))}
    )
    response = api_client.get(JWKS)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    published = response.json()["keys"]
    current_kid = keys.thumbprint(key("RS256").public_key())
    assert [k["kid"] for k in published] == [current_kid, "old-rsa", "old-ed"]
    assert [k["alg"] for k in published] == ["RS256", "RS256", "EdDSA"]
    for jwk in published:
        assert not PRIVATE_MEMBERS & set(jwk), jwk
        assert jwk["use"] == "sig"
    assert published[1]["n"] == RSAAlgorithm.to_jwk(old.public_key(), as_dict=True)["n"]
    assert published[2]["x"] == OKPAlgorithm.to_jwk(key("EdDSA", 1).public_key(), as_dict=True)["x"]


def test_jwks_is_empty_under_hmac(api_client):
    response = api_client.get(JWKS)
    assert response.status_code == 200
    assert response.json() == {"keys": []}


def _expired_access(user):
    """An access token of an open session, issued an hour ago: signed fine, but expired."""
    session, _ = sessions.open_session(user)
    Session.objects.filter(pk=session.pk).update(issued_at=int(time.time()) - 3600)
    session.refresh_from_db()
    return tokens.get_codec().access_for(session)


def test_key_rotation_keeps_everyone_logged_in(settings, api_client, user, tokens_for, tmp_path):
    keys_dir = tmp_path / "keys"
    call_command("rotate_signing_key", keys_dir=str(keys_dir), algorithm="EdDSA", stdout=io.StringIO())
    # Check the directory on every call, as a long-running process would after its interval.
    settings.AUTHGATE = authgate_settings(
        ALGORITHM="EdDSA", SIGNING_KEYS_DIR=str(keys_dir), SIGNING_KEYS_CHECK_INTERVAL=0
    )
    old_kid = tokens.get_codec().key_id
    before = tokens_for(user)
    expired_before = _expired_access(user)
    assert unverified_parts(before["access"])[0]["kid"] == old_kid

    call_command("rotate_signing_key", stdout=io.StringIO())
    new_kid = tokens.get_codec().key_id
    assert new_kid != old_kid
    assert not (keys_dir / keys.NEXT).exists()
    assert (keys_dir / keys.PREVIOUS / f"{old_kid}.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in (keys_dir / keys.PREVIOUS / f"{old_kid}.pem").read_text()

    # Old tokens still verify, until they expire...
    assert _protected(api_client, before["access"]).status_code == 200
    response = _protected(api_client, expired_before)
    assert (response.status_code, response.json()["reason"]) == (401, "expired")
    # ...and the session's next pair, like every new login, carries the new kid.
    rotated = api_client.post("/api/auth/token/refresh/", {"refresh": before["refresh"]}, format="json").json()
    assert unverified_parts(rotated["access"])[0]["kid"] == new_kid
    assert unverified_parts(rotated["refresh"])[0]["kid"] == new_kid
    assert unverified_parts(tokens_for(user)["access"])[0]["kid"] == new_kid
    assert [k["kid"] for k in api_client.get(JWKS).json()["keys"]] == [new_kid, old_kid]

    # Once its tokens can no longer be valid, the retired key is pruned by the next rotation.
    retired = keys_dir / keys.PREVIOUS / f"{old_kid}.pem"
    long_ago = time.time() - 8 * 24 * 3600
    os.utime(retired, (long_ago, long_ago))
    call_command("rotate_signing_key", stdout=io.StringIO())
    assert not retired.exists()
    response = _protected(api_client, before["access"])
    assert (response.status_code, response.json()["reason"]) == (401, "malformed")


def test_staged_key_is_published_before_it_signs(settings, api_client, user, tokens_for, tmp_path):
    keys_dir = tmp_path / "keys"
    quiet = io.StringIO()
    call_command("rotate_signing_key", keys_dir=str(keys_dir), algorithm="EdDSA", stdout=quiet)
    settings.AUTHGATE = authgate_settings(
        ALGORITHM="EdDSA", SIGNING_KEYS_DIR=str(keys_dir), SIGNING_KEYS_CHECK_INTERVAL=0
    )
    current = tokens.get_codec().key_id
    call_command("rotate_signing_key", stage=True, stdout=quiet)
    staged = keys.thumbprint(keys.load_private_key((keys_dir / keys.NEXT).read_bytes()).public_key())
    assert [k["kid"] for k in api_client.get(JWKS).json()["keys"]] == [current, staged]
    assert unverified_parts(tokens_for(user)["access"])[0]["kid"] == current
    call_command("rotate_signing_key", stdout=quiet)
    assert unverified_parts(tokens_for(user)["access"])[0]["kid"] == staged


def test_a_process_that_has_not_reloaded_yet_accepts_the_new_kid(settings, user, tmp_path):
    """Process A (old codec) meets a token from process B, which already rotated."""
    keys_dir = tmp_path / "keys"
    quiet = io.StringIO()
    call_command("rotate_signing_key", keys_dir=str(keys_dir), algorithm="EdDSA", stdout=quiet)
    settings.AUTHGATE = authgate_settings(ALGORITHM="EdDSA", SIGNING_KEYS_DIR=str(keys_dir))
    process_a = tokens.TokenCodec()
    call_command("rotate_signing_key", stdout=quiet)
    process_b = tokens.TokenCodec()
    session, _ = sessions.open_session(user)
    token = process_b.access_for(session)
    process_a.last_keys_check -= tokens.UNKNOWN_KID_RECHECK  # its rate limit has passed
    assert process_a.decode(token, tokens.ACCESS).session_id == session.id.hex


def _forge(payload, private_key, algorithm, kid):
    return jwt.encode(payload, private_key, algorithm=algorithm, headers={"kid": kid})


def test_unknown_kid_foreign_key_and_alg_none_are_malformed(settings, api_client, user, tokens_for):
    settings.AUTHGATE = asymmetric("EdDSA")
    access = tokens_for(user)["access"]
    header, payload = unverified_parts(access)
    attacker = key("EdDSA", 2)
    forged = [
        _forge(payload, attacker, "EdDSA", "unknown-kid"),
        _forge(payload, attacker, "EdDSA", header["kid"]),  # right kid, wrong key
        f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{b64(payload)}.",
        f"{b64({'alg': 'EdDSA', 'kid': ['a', 'list']})}.{b64(payload)}.{access.split('.')[2]}",
    ]
    for token in forged:
        response = _protected(api_client, token)
        assert response.status_code == 401, token
        assert response.json()["reason"] == "malformed", token
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert _protected(api_client, access).status_code == 200


@pytest.mark.parametrize("with_kid", [True, False])
def test_hs256_token_signed_with_the_rsa_public_key_is_rejected(settings, api_client, user, tokens_for, with_kid):
    """Algorithm confusion: the public key (published!) used as an HMAC secret."""
    settings.AUTHGATE = asymmetric("RS256")
    header, payload = unverified_parts(tokens_for(user)["access"])
    forged_header = {"alg": "HS256", "typ": "JWT", **({"kid": header["kid"]} if with_kid else {})}
    signing_input = f"{b64(forged_header)}.{b64(payload)}"
    for secret in (public_pem(key("RS256")).encode(), keys.public_pem(key("RS256"))):
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        response = _protected(api_client, f"{signing_input}.{b64(signature)}")
        assert response.status_code == 401
        assert response.json()["reason"] == "malformed"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ALGORITHM": "RS256"}, "needs a private key"),
        ({"ALGORITHM": "ES256"}, "re-minted"),
        ({"ALGORITHM": "RS256", "SIGNING_KEY": "not a pem"}, "not an unencrypted PEM private key"),
        ({"ALGORITHM": "RS256", "SIGNING_KEY_FILE": "/nonexistent/key.pem"}, "cannot be read"),
    ],
)
def test_bad_key_configuration_is_refused_clearly(settings, overrides, message):
    settings.AUTHGATE = authgate_settings(**overrides)
    with pytest.raises(ImproperlyConfigured, match=message):
        tokens.TokenCodec()


def test_a_key_that_cannot_sign_the_configured_algorithm_is_refused(settings):
    settings.AUTHGATE = authgate_settings(ALGORITHM="RS256", SIGNING_KEY=pem(key("EdDSA")))
    with pytest.raises(ImproperlyConfigured, match="cannot sign RS256"):
        tokens.TokenCodec()


def test_service_reads_keys_from_the_environment(monkeypatch, settings, api_client, user, tokens_for):
    """12-factor: PEM text in one env var (newlines as literal \\n), previous keys as JSON."""
    from server.settings import _authgate_from_env

    one_line_pem = pem(key("EdDSA")).strip().replace("\n", "\\n")
    monkeypatch.setenv("AUTHGATE_ALGORITHM", "EdDSA")
    monkeypatch.setenv("AUTHGATE_SIGNING_KEY", one_line_pem)
    monkeypatch.setenv("AUTHGATE_VERIFYING_KEYS", json.dumps({"prev": public_pem(key("EdDSA", 1))}))
    conf = _authgate_from_env()
    assert conf["ALGORITHM"] == "EdDSA" and "\n" not in conf["SIGNING_KEY"]
    settings.AUTHGATE = authgate_settings(**conf)
    assert _protected(api_client, tokens_for(user)["access"]).status_code == 200
    assert [k["kid"] for k in api_client.get(JWKS).json()["keys"]] == [
        keys.thumbprint(key("EdDSA").public_key()),
        "prev",
    ]
