"""Helpers shared by the tests/test_interop_*.py files: keys made once, settings for them."""

import base64
import functools
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings as django_settings

from authgate import keys

# JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests are about tokens, not password storage: skip Argon2's ~0.3 s of CPU per
    hash and check (logins still go through the real authentication backend)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def key(algorithm, n=0):
    """The n-th private key for `algorithm`, generated once per test run (RSA is slow)."""
    return _key(algorithm, n)


@functools.cache
def _key(algorithm, n):
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def pem(private_key):
    return keys.private_pem(private_key).decode()


def public_pem(private_key):
    return keys.public_pem(private_key).decode()


def authgate_settings(**overrides):
    """The project's AUTHGATE dict (REDIS_URL kept) with `overrides`."""
    return {**getattr(django_settings, "AUTHGATE", {}), **overrides}


def asymmetric(algorithm, n=0, **overrides):
    return authgate_settings(ALGORITHM=algorithm, SIGNING_KEY=pem(key(algorithm, n)), **overrides)


def b64(data):
    if not isinstance(data, bytes):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_parts(token):
    header, payload, _ = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))
