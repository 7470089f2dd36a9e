"""
A software WebAuthn authenticator for the tests: it answers the server's options with the
same W3C JSON forms a browser's `credential.toJSON()` gives, signed with a real key
(ES256, EdDSA or RS256, from `cryptography`) and "none" attestation.

It is a client, not a verifier: the server checks what it produces with py_webauthn. The
browser tests (Chromium's virtual authenticator) are the ground truth for what a browser
sends; this one lets the tests shape a response exactly — another origin, another RP ID,
an old counter — while keeping the signature valid, so each refusal is for the reason
under test. `from_private_key()` takes over a key made inside Chromium (CDP
`WebAuthn.getCredentials`) to forge assertions for a browser-registered credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

ES256, EDDSA, RS256 = -7, -8, -257
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, alg: int = ES256, *, synced: bool = False, private_key: Any = None) -> None:
        self.alg = alg
        self.synced = synced
        if private_key is not None:
            self.key = private_key
        elif alg == ES256:
            self.key = ec.generate_private_key(ec.SECP256R1())
        elif alg == EDDSA:
            self.key = ed25519.Ed25519PrivateKey.generate()
        elif alg == RS256:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(alg)
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.user_handle: str | None = None

    @classmethod
    def from_private_key(
        cls, pkcs8_b64: str, credential_id_b64: str, *, user_handle: str | None, sign_count: int
    ) -> SoftAuthenticator:
        """The credential Chromium's virtual authenticator holds (CDP `WebAuthn.getCredentials`)."""
        key = serialization.load_der_private_key(base64.b64decode(pkcs8_b64), password=None)
        alg = ES256 if isinstance(key, ec.EllipticCurvePrivateKey) else RS256
        auth = cls(alg, private_key=key)
        auth.credential_id = unb64u(credential_id_b64.replace("+", "-").replace("/", "_").rstrip("="))
        auth.user_handle = user_handle
        auth.sign_count = sign_count
        return auth

    @property
    def id(self) -> str:
        return b64u(self.credential_id)

    def _cose(self) -> dict[int, Any]:
        public = self.key.public_key()
        if self.alg == ES256:
            numbers = public.public_numbers()
            return {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        if self.alg == EDDSA:
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {1: 1, 3: EDDSA, -1: 6, -2: raw}
        numbers = public.public_numbers()
        return {1: 3, 3: RS256, -1: numbers.n.to_bytes(256, "big"), -2: numbers.e.to_bytes(3, "big")}

    def _sign(self, data: bytes) -> bytes:
        if self.alg == ES256:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == EDDSA:
            return self.key.sign(data)
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def _flags(self, extra: int) -> int:
        return UP | UV | extra | ((BE | BS) if self.synced else 0)

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, public_key: dict[str, Any], *, origin: str, rp_id: str | None = None) -> dict[str, Any]:
        """RegistrationResponseJSON for creation options `public_key`."""
        rp_id = rp_id or public_key["rp"]["id"]
        self.user_handle = public_key["user"]["id"]
        client_data = self._client_data("webauthn.create", public_key["challenge"], origin)
        attested = (
            bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + cbor2.dumps(self._cose())
        )
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags(AT)]) + struct.pack(">I", 0)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data + attested})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def get(
        self,
        public_key: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        sign_count: int | None = None,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """AuthenticationResponseJSON for request options `public_key` (the counter moves on
        by one unless `sign_count` is given)."""
        rp_id = rp_id or public_key["rpId"]
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = self._client_data("webauthn.get", public_key["challenge"], origin)
        flags = self._flags(0) & ~(0 if user_verified else UV)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        signature = self._sign(auth_data + hashlib.sha256(client_data).digest())
        response = {
            "clientDataJSON": b64u(client_data),
            "authenticatorData": b64u(auth_data),
            "signature": b64u(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = self.user_handle
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": response,
            "clientExtensionResults": {},
        }
