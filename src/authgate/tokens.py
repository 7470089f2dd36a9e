"""
Minting and verifying authgate's JWTs. No state: what a token means is decided in
`sessions` (the lifecycle); this module only says whether a string is a well-signed,
unexpired token of the expected type, and builds the tokens of a session.

Tokens are deterministic functions of their session's row (id, user, generation, issue
time): re-minting the current pair gives byte-identical strings, which is how the retry
window answers with "exactly the same pair" without storing any token.

Every token is verified by PyJWT (`jwt.decode_complete`), once. Its header is read
beforehand (`jwt.get_unverified_header`) only where a key must be picked by its "kid";
with a single verifying key, a "kid" is checked after the verification instead. Minting
gives exactly the bytes `jwt.encode` gives (`jws.Signer`: PyJWT's encoder, the key
prepared once).
"""

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jwt
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _

from . import keys
from .jws import Signer
from .conf import RELOADING_SETTINGS, api_settings
from .errors import TokenExpired, TokenInvalid, TokenMalformed, TokenWrongType

if TYPE_CHECKING:
    import uuid
    from datetime import datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
    from jwt.types import Options


logger = logging.getLogger("authgate.tokens")


class SessionRow(Protocol):
    """What a pair is minted from: the fields of a session row (`authgate.models.Session`)
    that its claims carry. A protocol, so that minting needs nothing of the models."""

    @property
    def id(self) -> "uuid.UUID": ...
    @property
    def user_id(self) -> Any: ...
    @property
    def generation(self) -> int: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def expires_at(self) -> "datetime": ...
    @property
    def amr(self) -> str: ...
    @property
    def authenticated_at(self) -> "datetime": ...


ACCESS = "access"
REFRESH = "refresh"
# A token longer than this is refused before any parsing (cheap DoS guard).
MAX_TOKEN_LENGTH = 4096
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "gen", "type"]
# A token with an unknown kid makes a codec re-read its keys directory at most this often.
UNKNOWN_KID_RECHECK = 1.0


# A token that must be refused: its class names the reason (`authgate.errors`).
TokenError = TokenInvalid


@dataclass(frozen=True)
class Claims:
    """The verified content of an authgate token."""

    token_type: str
    session_id: str
    user_id: str
    generation: int
    issued_at: int
    expires_at: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str

    def as_dict(self) -> dict[str, str]:
        return {"access": self.access, "refresh": self.refresh}


class VerifiedTokens:
    """
    The exact strings of access tokens this process has verified, with their claims: a
    bounded LRU map, so a token presented again costs a lookup instead of a signature check
    and two parses. Expiry (with the leeway) is still checked on every use. It belongs to
    one codec: new keys or settings make a new codec, hence an empty map.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._claims: OrderedDict[str, Claims] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Claims | None:
        claims = self._claims.get(token)
        if claims is not None:
            try:  # most recently used; one OrderedDict call, atomic under the GIL: no lock
                self._claims.move_to_end(token)
            except KeyError:  # evicted meanwhile by another thread's put()
                pass
        return claims

    def put(self, token: str, claims: Claims) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._claims[token] = claims
            while len(self._claims) > self.size:
                self._claims.popitem(last=False)


class TokenCodec:
    """
    Encodes and verifies tokens with one signing key and a set of verifying keys by `kid`.

    HMAC (HS256, the default): SIGNING_KEY or SECRET_KEY; a `kid` header only when
    SIGNING_KEY_ID is set (VERIFYING_KEYS then maps old kids to old secrets).
    RS256/EdDSA: the private key comes from SIGNING_KEYS_DIR, SIGNING_KEY_FILE or
    SIGNING_KEY (PEM); every token carries a `kid` (SIGNING_KEY_ID, else the key's RFC
    7638 thumbprint); previous and staged public keys verify too and are published in
    the JWKS. Each verifying key is bound to one algorithm, whatever a header claims.
    """

    def __init__(self) -> None:
        self.algorithm = keys.check_algorithm(api_settings.ALGORITHM)
        self.issuer: str | None = api_settings.ISSUER
        self.audience: str | list[str] | None = api_settings.AUDIENCE
        self.leeway: float = api_settings.LEEWAY.total_seconds()
        self.keys_dir: Path | None = None
        self.keys_state: tuple[tuple[str, int, int], ...] | None = None
        self.last_keys_check = time.monotonic()
        self.public_keys: dict[str, keys.VerifyingKey] = {}  # kid -> public key: what the JWKS publishes
        self.signing_key: str | bytes | keys.SigningKey
        self.key_id: str | None
        self.verifying_keys: dict[str, tuple[str, str | bytes | keys.VerifyingKey]]
        self.default_verifying_key: tuple[str, str | bytes | keys.VerifyingKey]
        if self.algorithm in keys.HMAC_ALGORITHMS:
            self._load_hmac_keys()
        else:
            self._load_asymmetric_keys()
        self.headers = {"kid": self.key_id} if self.key_id else None
        self._signer = Signer(self.algorithm, self.signing_key, self.headers)
        self._decode_options: Options = {
            "require": _REQUIRED_CLAIMS + (["iss"] if self.issuer else []) + (["aud"] if self.audience else [])
        }
        self.verified = VerifiedTokens(api_settings.TOKEN_CACHE_SIZE)

    def _load_hmac_keys(self) -> None:
        self.signing_key = api_settings.SIGNING_KEY or django_settings.SECRET_KEY
        self.key_id = api_settings.SIGNING_KEY_ID
        default = api_settings.VERIFYING_KEY or self.signing_key
        self.verifying_keys = {kid: (self.algorithm, key) for kid, key in (api_settings.VERIFYING_KEYS or {}).items()}
        if self.key_id:
            self.verifying_keys.setdefault(self.key_id, (self.algorithm, default))
        self.default_verifying_key = (self.algorithm, default)

    def _load_asymmetric_keys(self) -> None:
        staged: PrivateKeyTypes | None = None
        previous: list[keys.VerifyingKey] = []
        if api_settings.SIGNING_KEYS_DIR:
            self.keys_dir = Path(api_settings.SIGNING_KEYS_DIR)
            self.keys_state = keys.keys_dir_state(self.keys_dir)
            found = keys.read_keys_dir(self.keys_dir)
            private, staged, previous = found.current, found.next, found.previous
        elif api_settings.SIGNING_KEY_FILE:
            try:
                data = Path(api_settings.SIGNING_KEY_FILE).read_bytes()
            except OSError as exc:
                raise ImproperlyConfigured(f"AUTHGATE SIGNING_KEY_FILE cannot be read: {exc}") from None
            private = keys.load_private_key(data, source="SIGNING_KEY_FILE")
        elif api_settings.SIGNING_KEY:
            private = keys.load_private_key(api_settings.SIGNING_KEY)
        else:
            raise ImproperlyConfigured(
                f"AUTHGATE ALGORITHM {self.algorithm} needs a private key: set SIGNING_KEYS_DIR, "
                "SIGNING_KEY_FILE or SIGNING_KEY (PEM)."
            )
        private = keys.check_key_matches(private, self.algorithm)
        self.signing_key = private
        self.key_id = api_settings.SIGNING_KEY_ID or keys.thumbprint(private.public_key())
        self.public_keys[self.key_id] = private.public_key()
        for extra in ([staged] if staged else []) + previous:
            public = keys.load_public_key(extra)
            self.public_keys.setdefault(keys.thumbprint(public), public)
        for kid, value in (api_settings.VERIFYING_KEYS or {}).items():
            self.public_keys.setdefault(kid, keys.load_public_key(value))
        self.verifying_keys = {
            kid: (keys.algorithm_for(public, self.algorithm), public) for kid, public in self.public_keys.items()
        }
        # Tokens from before kids were issued: the configured VERIFYING_KEY, else the current key.
        legacy = private.public_key()
        if api_settings.VERIFYING_KEY:
            legacy = keys.load_public_key(api_settings.VERIFYING_KEY, source="VERIFYING_KEY")
        self.default_verifying_key = (keys.algorithm_for(legacy, self.algorithm), legacy)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set (RFC 7517): current, staged and previous keys; empty for HMAC."""
        return {
            "keys": [
                {"kid": kid, "use": "sig", "alg": self.verifying_keys[kid][0], **keys.public_jwk(public)}
                for kid, public in self.public_keys.items()
            ]
        }

    def keys_changed(self) -> bool:
        return self.keys_dir is not None and keys.keys_dir_state(self.keys_dir) != self.keys_state

    def encode(self, payload: dict[str, Any]) -> str:
        if self.issuer:
            payload["iss"] = self.issuer
        if self.audience:
            payload["aud"] = self.audience
        return self._signer.sign(payload)

    def _key_for(self, token: str) -> tuple[str, str | bytes | keys.VerifyingKey] | None:
        """The (algorithm, key) that verifies `token`; None when there is only the default
        one, so that its header need not be read twice (the caller checks there is no kid)."""
        if not self.verifying_keys and self.keys_dir is None:
            return None
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if kid is None:
            return self.default_verifying_key
        if not isinstance(kid, str):
            raise TokenMalformed(_("Token is signed with an unknown key."))
        entry = self.verifying_keys.get(kid)
        if entry is None and self.keys_dir is not None:
            # Another process may have rotated the keys directory: look again (rate-limited).
            entry = _reloaded(self, min_interval=UNKNOWN_KID_RECHECK).verifying_keys.get(kid)
        if entry is None:
            raise TokenMalformed(_("Token is signed with an unknown key."))
        return entry

    def decode(self, token: object, expected_type: str) -> Claims:
        """Verified claims of `token`, or TokenError. Signature is checked before anything."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenMalformed()
        claims = self.verified.get(token)
        if claims is not None:
            if claims.expires_at <= time.time() - self.leeway:  # PyJWT's own rule
                raise TokenExpired()
            if claims.token_type != expected_type:
                raise TokenWrongType(_("Token has wrong type: expected an %(type)s token.") % {"type": expected_type})
            return claims
        try:
            picked = self._key_for(token)
            algorithm, key = picked or self.default_verifying_key
            verified = jwt.decode_complete(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._decode_options,
            )
            if picked is None and "kid" in verified["header"]:
                raise TokenMalformed(_("Token is signed with an unknown key."))
            payload = verified["payload"]
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
            raise TokenMalformed() from None
        token_type = payload.get("type")
        if token_type not in (ACCESS, REFRESH):
            raise TokenMalformed()
        if token_type != expected_type:
            raise TokenWrongType(_("Token has wrong type: expected an %(type)s token.") % {"type": expected_type})
        try:
            claims = Claims(
                token_type=token_type,
                session_id=str(payload["sid"]),
                user_id=str(payload["sub"]),
                generation=int(payload["gen"]),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                payload=payload,
            )
        except (TypeError, ValueError):
            raise TokenMalformed() from None
        if token_type == ACCESS:  # refresh tokens are single-use: nothing to gain
            self.verified.put(token, claims)
        return claims

    def _claims_for(
        self, session: SessionRow, token_type: str, issued_at: int, lifetime: "timedelta"
    ) -> dict[str, Any]:
        cap = int(session.expires_at.timestamp())
        expires_at = min(issued_at + int(lifetime.total_seconds()), cap)
        sid = session.id.hex
        claims: dict[str, Any] = {
            "type": token_type,
            "sub": str(session.user_id),
            "sid": sid,
            "gen": session.generation,
            "iat": issued_at,
            "exp": expires_at,
            "jti": f"{sid}.{session.generation}.{issued_at}.{token_type[0]}",
        }
        if token_type == ACCESS:  # how and when the session authenticated (RFC 8176, OIDC)
            claims["amr"] = session.amr.split() if session.amr else []
            claims["auth_time"] = int(session.authenticated_at.timestamp())
        return claims

    def access_for(self, session: SessionRow, issued_at: int | None = None) -> str:
        issued_at = session.issued_at if issued_at is None else issued_at
        return self.encode(self._claims_for(session, ACCESS, issued_at, api_settings.ACCESS_TOKEN_LIFETIME))

    def refresh_for(self, session: SessionRow) -> str:
        return self.encode(self._claims_for(session, REFRESH, session.issued_at, api_settings.REFRESH_TOKEN_LIFETIME))

    def pair_for(self, session: SessionRow) -> TokenPair:
        """The session's current pair; the same bytes every time for the same row state."""
        return TokenPair(access=self.access_for(session), refresh=self.refresh_for(session))


_codec: TokenCodec | None = None


def _reloaded(codec: TokenCodec, min_interval: float) -> TokenCodec:
    """The codec to use now: a new one if `codec`'s keys directory changed on disk
    (a rotation by `rotate_signing_key`, possibly from another process or host)."""
    global _codec
    now = time.monotonic()
    if now - codec.last_keys_check < min_interval:
        return _codec or codec
    codec.last_keys_check = now
    if not codec.keys_changed():
        return codec
    try:
        fresh = TokenCodec()
    except ImproperlyConfigured as exc:  # e.g. a half-done manual edit: keep the keys we have
        logger.error("Signing keys directory changed but cannot be loaded, keeping the old keys: %s", exc)
        return codec
    logger.info("Signing keys reloaded from %s; signing kid is now %s.", fresh.keys_dir, fresh.key_id)
    if _codec is codec:
        _codec = fresh
    return fresh


def get_codec() -> TokenCodec:
    """The process's codec (built from the settings on first use, rebuilt after a key rotation)."""
    global _codec
    codec = _codec
    if codec is None:
        codec = _codec = TokenCodec()
    elif codec.keys_dir is not None:
        codec = _reloaded(codec, api_settings.SIGNING_KEYS_CHECK_INTERVAL.total_seconds())
    return codec


def reset_codec() -> None:
    global _codec
    _codec = None


def _reset_codec_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS:
        reset_codec()


setting_changed.connect(_reset_codec_on_setting_change)
