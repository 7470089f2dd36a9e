"""
Encryption at rest of factor secrets (TOTP shared secrets): Fernet (AES-128-CBC with
HMAC-SHA256, from `cryptography`) under a MultiFernet of `MFA_ENCRYPTION_KEYS` — the first
key encrypts, every key decrypts, so keys rotate by prepending a new one (and re-encrypting
with `rotate()` at leisure).

Without `MFA_ENCRYPTION_KEYS`, the key is derived from SECRET_KEY (HKDF-SHA256, its own
`info`, so it is never the JWT or hashing key), and the SECRET_KEY_FALLBACKS derive
decryption-only keys: rotating SECRET_KEY the Django way keeps secrets readable.
A secret that no key decrypts raises `UndecryptableSecret` (the factor cannot be checked:
the account needs support), never returns garbage.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..conf import api_settings

_INFO = b"authgate.mfa.secret-encryption.v1"


class UndecryptableSecret(Exception):
    """No configured key decrypts a stored secret (keys lost or rotated away)."""


def _derived(secret: str | bytes) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return base64.urlsafe_b64encode(key)


def _fernet() -> MultiFernet:
    configured = api_settings.MFA_ENCRYPTION_KEYS
    if configured:
        if isinstance(configured, (str, bytes)):
            configured = [configured]
        try:
            return MultiFernet([Fernet(key) for key in configured])
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                "AUTHGATE MFA_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes "
                "(cryptography.fernet.Fernet.generate_key())."
            ) from exc
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return MultiFernet([Fernet(_derived(secret)) for secret in secrets])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise UndecryptableSecret("No MFA encryption key decrypts this secret.") from None


def rotate(token: str) -> str:
    """`token` re-encrypted under the current first key."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise UndecryptableSecret("No MFA encryption key decrypts this secret.") from None
