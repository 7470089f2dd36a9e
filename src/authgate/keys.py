"""
Asymmetric signing keys: where they come from, what they publish, how they rotate.

- Loading: PEM text (setting or environment), a PEM file, or a keys directory that the
  `rotate_signing_key` command maintains (below). Parsing is `cryptography`'s.
- Publishing: the public JWK of a key (PyJWT's `to_jwk`, cut to the RFC 7638 members),
  and its RFC 7638 thumbprint, which is the default `kid`: stable for the key, the same
  in every process, and checkable by anyone holding the JWKS.
- Rotating: the keys directory holds

      current.pem        the private key that signs new tokens
      next.pem           optional, staged: published and accepted, not yet signing
      previous/<kid>.pem public keys of retired signing keys, kept until every token
                         they signed has expired (the file's mtime is its retirement)

Only deterministic signature schemes are allowed (RSA PKCS#1 v1.5 and Ed25519): the
retry window re-mints a session's pair and must get the very same bytes.
"""

import base64
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS + ("EdDSA",)
# ES*/PS* signatures are randomised: a re-minted pair would differ from the first one.
RANDOMISED_ALGORITHMS = ("ES256", "ES384", "ES512", "ES256K", "PS256", "PS384", "PS512")

CURRENT = "current.pem"
NEXT = "next.pem"
PREVIOUS = "previous"
RSA_KEY_SIZE = 2048

# RFC 7638 §3.2: the members that define a key, per key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}

# The keys authgate signs and verifies with (deterministic schemes only).
SigningKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
VerifyingKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


def check_algorithm(algorithm: str) -> str:
    if algorithm in HMAC_ALGORITHMS or algorithm in ASYMMETRIC_ALGORITHMS:
        return algorithm
    if algorithm in RANDOMISED_ALGORITHMS:
        raise ImproperlyConfigured(
            f"AUTHGATE['ALGORITHM'] = {algorithm!r} signs with randomness, so a re-minted token "
            "pair would not be byte-identical (the refresh retry window needs that). "
            "Use RS256/RS384/RS512 or EdDSA."
        )
    raise ImproperlyConfigured(
        f"AUTHGATE['ALGORITHM'] = {algorithm!r} is not supported; choose one of "
        f"{', '.join(HMAC_ALGORITHMS + ASYMMETRIC_ALGORITHMS)}."
    )


def _as_bytes(value: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(value, str):
        # Environments that cannot hold newlines get PEM text with literal "\n".
        value = value.replace("\\n", "\n").strip()
        return value.encode()
    return bytes(value)


def load_private_key(
    value: str | bytes | bytearray | memoryview | SigningKey, source: str = "SIGNING_KEY"
) -> PrivateKeyTypes:
    """A private key object from PEM text/bytes (or a key object, returned as is)."""
    if isinstance(value, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return value
    try:
        return serialization.load_pem_private_key(_as_bytes(value), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"AUTHGATE {source}: not an unencrypted PEM private key ({exc}).") from None


def load_public_key(
    value: str | bytes | PrivateKeyTypes | PublicKeyTypes, source: str = "VERIFYING_KEYS"
) -> VerifyingKey:
    """A public key object from public PEM, private PEM (its public half) or a key object."""
    public: PrivateKeyTypes | PublicKeyTypes
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        data = _as_bytes(value)
        try:
            public = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            try:
                public = serialization.load_pem_private_key(data, password=None).public_key()
            except (ValueError, TypeError) as exc:
                raise ImproperlyConfigured(f"AUTHGATE {source}: not a PEM public key ({exc}).") from None
    elif isinstance(value, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        public = value.public_key()
    else:
        public = value
    if isinstance(public, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return public
    raise ImproperlyConfigured(f"AUTHGATE: unsupported key type {type(public).__name__}.")


def algorithm_for(public_key: VerifyingKey, configured: str) -> str:
    """The one algorithm a key verifies with. Bound to the key, never read from a token
    header: this is what makes algorithm confusion impossible."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return configured if configured in RSA_ALGORITHMS else "RS256"
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "EdDSA"
    raise ImproperlyConfigured(f"AUTHGATE: unsupported key type {type(public_key).__name__}.")


def check_key_matches(private_key: PrivateKeyTypes, algorithm: str) -> SigningKey:
    """The key itself, once it is known to sign `algorithm`."""
    if algorithm in RSA_ALGORITHMS:
        if isinstance(private_key, rsa.RSAPrivateKey):
            return private_key
    elif isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return private_key
    raise ImproperlyConfigured(
        f"AUTHGATE: the signing key is a {type(private_key.public_key()).__name__}, which cannot sign {algorithm}."
    )


def public_jwk(public_key: PublicKeyTypes) -> dict[str, str]:
    """The key's public JWK members (RFC 7638's set: no private part, nothing optional)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        full = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        full = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        raise ImproperlyConfigured(f"AUTHGATE: unsupported key type {type(public_key).__name__}.")
    return {name: full[name] for name in _THUMBPRINT_MEMBERS[full["kty"]]}


def thumbprint(public_key: PublicKeyTypes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the default `kid` of a key."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_pem(key: PrivateKeyTypes | PublicKeyTypes) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_private_key(algorithm: str) -> SigningKey:
    if algorithm in RSA_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ImproperlyConfigured(f"Cannot generate a signing key for {algorithm!r}: use RS256 or EdDSA.")


# -- the keys directory ---------------------------------------------------------------------
@dataclass
class KeysDirectory:
    """What a keys directory holds, read once."""

    current: PrivateKeyTypes
    next: PrivateKeyTypes | None = None
    previous: list[VerifyingKey] = field(default_factory=list)


def read_keys_dir(path: str | Path) -> KeysDirectory:
    path = Path(path)
    current_file = path / CURRENT
    if not current_file.is_file():
        raise ImproperlyConfigured(
            f"AUTHGATE SIGNING_KEYS_DIR {str(path)!r} has no {CURRENT}: create one with `manage.py rotate_signing_key`."
        )
    current = load_private_key(current_file.read_bytes(), source=str(current_file))
    next_file = path / NEXT
    staged = load_private_key(next_file.read_bytes(), source=str(next_file)) if next_file.is_file() else None
    previous = [load_public_key(f.read_bytes(), source=str(f)) for f in sorted((path / PREVIOUS).glob("*.pem"))]
    return KeysDirectory(current=current, next=staged, previous=previous)


def keys_dir_state(path: str | Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint (names, sizes, mtimes) that changes whenever a rotation happens."""
    path = Path(path)
    state = []
    for entry in [path / CURRENT, path / NEXT, *sorted((path / PREVIOUS).glob("*.pem"))]:
        try:
            stat = entry.stat()
        except OSError:
            continue
        state.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def _write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write `data` so that readers see either the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class RotationResult:
    signing_kid: str
    staged_kid: str | None = None
    retired_kid: str | None = None
    pruned: list[str] = field(default_factory=list)


def rotate_keys_dir(
    path: str | Path,
    algorithm: str,
    *,
    stage: bool = False,
    keep_previous_for: timedelta | None = None,
    now: float | None = None,
) -> RotationResult:
    """
    One rotation step in a keys directory (see the module docstring):

    - no current.pem yet: create one (first set-up);
    - `stage`: create next.pem (published and accepted, not signing yet), so that
      resource servers can fetch it before any token uses it;
    - otherwise: next.pem (or a fresh key) becomes current.pem; the old current key's
      public half moves to previous/<kid>.pem, its private half is deleted.

    Previous keys retired longer ago than `keep_previous_for` (a timedelta: the longest
    lifetime of a token) are deleted: no token they signed can still be valid.
    """
    path = Path(path)
    (path / PREVIOUS).mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    now = time.time() if now is None else now
    current_file, next_file = path / CURRENT, path / NEXT
    result = None
    if not current_file.is_file():
        key = generate_private_key(algorithm)
        _write_atomically(current_file, private_pem(key), 0o600)
        result = RotationResult(signing_kid=thumbprint(key.public_key()))
    elif stage:
        current = load_private_key(current_file.read_bytes(), source=str(current_file))
        if next_file.is_file():
            staged = load_private_key(next_file.read_bytes(), source=str(next_file))
        else:
            staged = generate_private_key(algorithm)
            _write_atomically(next_file, private_pem(staged), 0o600)
        result = RotationResult(
            signing_kid=thumbprint(current.public_key()), staged_kid=thumbprint(staged.public_key())
        )
    else:
        old = load_private_key(current_file.read_bytes(), source=str(current_file))
        if next_file.is_file():
            new = load_private_key(next_file.read_bytes(), source=str(next_file))
        else:
            new = generate_private_key(algorithm)
        retired_kid = thumbprint(old.public_key())
        # Publish the old public key as "previous" before the switch, so no instant exists
        # in which a token signed by it has no verifying key.
        _write_atomically(path / PREVIOUS / f"{retired_kid}.pem", public_pem(old), 0o644)
        _write_atomically(current_file, private_pem(new), 0o600)
        if next_file.is_file():
            next_file.unlink()
        result = RotationResult(signing_kid=thumbprint(new.public_key()), retired_kid=retired_kid)
    if keep_previous_for is not None:
        cutoff = now - keep_previous_for.total_seconds()
        for old_file in sorted((path / PREVIOUS).glob("*.pem")):
            if old_file.stat().st_mtime < cutoff:
                old_file.unlink()
                result.pruned.append(old_file.stem)
    return result
