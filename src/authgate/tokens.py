"""
Minting and verifying authgate's JWTs. No state: what a token means is decided in
`sessions` (the lifecycle); this module only says whether a string is a well-signed,
unexpired token of the expected type, and builds the tokens of a session.

Tokens are deterministic functions of their session's row (id, user, generation, issue
time): re-minting the current pair gives byte-identical strings, which is how the retry
window answers with "exactly the same pair" without storing any token.
"""
from dataclasses import dataclass

import jwt
from django.conf import settings as django_settings

from .settings import api_settings

ACCESS = "access"
REFRESH = "refresh"
# A token longer than this is refused before any parsing (cheap DoS guard).
MAX_TOKEN_LENGTH = 4096
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "gen", "type"]


class TokenError(Exception):
    """A token that must be refused. `reason` is the stable machine word of SPEC §2."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Claims:
    """The verified content of an authgate token."""

    token_type: str
    session_id: str
    user_id: str
    generation: int
    issued_at: int
    expires_at: int
    payload: dict


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str

    def as_dict(self):
        return {"access": self.access, "refresh": self.refresh}


class TokenCodec:
    """Encodes and verifies tokens with one algorithm and a set of keys by `kid`."""

    def __init__(self):
        self.algorithm = api_settings.ALGORITHM
        self.signing_key = api_settings.SIGNING_KEY or django_settings.SECRET_KEY
        self.key_id = api_settings.SIGNING_KEY_ID
        default_verifying_key = api_settings.VERIFYING_KEY or self.signing_key
        self.verifying_keys = dict(api_settings.VERIFYING_KEYS or {})
        if self.key_id:
            self.verifying_keys.setdefault(self.key_id, default_verifying_key)
        self.default_verifying_key = default_verifying_key
        self.issuer = api_settings.ISSUER
        self.audience = api_settings.AUDIENCE
        self.leeway = api_settings.LEEWAY.total_seconds()
        self.headers = {"kid": self.key_id} if self.key_id else None
        self._decode_options = {"require": _REQUIRED_CLAIMS + (["iss"] if self.issuer else [])
                                + (["aud"] if self.audience else [])}

    def encode(self, payload):
        if self.issuer:
            payload["iss"] = self.issuer
        if self.audience:
            payload["aud"] = self.audience
        return jwt.encode(payload, self.signing_key, algorithm=self.algorithm, headers=self.headers)

    def _key_for(self, token):
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if kid is None:
            return self.default_verifying_key
        if not isinstance(kid, str) or kid not in self.verifying_keys:
            raise TokenError("malformed", "Token is signed with an unknown key.")
        return self.verifying_keys[kid]

    def decode(self, token, expected_type):
        """Verified claims of `token`, or TokenError. Signature is checked before anything."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("malformed", "Token is invalid.")
        try:
            key = self._key_for(token)
            payload = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._decode_options,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("expired", "Token has expired.") from None
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
            raise TokenError("malformed", "Token is invalid.") from None
        token_type = payload.get("type")
        if token_type not in (ACCESS, REFRESH):
            raise TokenError("malformed", "Token is invalid.")
        if token_type != expected_type:
            raise TokenError("wrong_type", f"Token has wrong type: expected an {expected_type} token.")
        try:
            return Claims(
                token_type=token_type,
                session_id=str(payload["sid"]),
                user_id=str(payload["sub"]),
                generation=int(payload["gen"]),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                payload=payload,
            )
        except (TypeError, ValueError):
            raise TokenError("malformed", "Token is invalid.") from None

    def _claims_for(self, session, token_type, issued_at, lifetime):
        cap = int(session.expires_at.timestamp())
        expires_at = min(issued_at + int(lifetime.total_seconds()), cap)
        sid = session.id.hex
        return {
            "type": token_type,
            "sub": str(session.user_id),
            "sid": sid,
            "gen": session.generation,
            "iat": issued_at,
            "exp": expires_at,
            "jti": f"{sid}.{session.generation}.{issued_at}.{token_type[0]}",
        }

    def access_for(self, session, issued_at=None):
        issued_at = session.issued_at if issued_at is None else issued_at
        return self.encode(self._claims_for(session, ACCESS, issued_at, api_settings.ACCESS_TOKEN_LIFETIME))

    def refresh_for(self, session):
        return self.encode(
            self._claims_for(session, REFRESH, session.issued_at, api_settings.REFRESH_TOKEN_LIFETIME)
        )

    def pair_for(self, session):
        """The session's current pair; the same bytes every time for the same row state."""
        return TokenPair(access=self.access_for(session), refresh=self.refresh_for(session))


_codec = None


def get_codec():
    global _codec
    if _codec is None:
        _codec = TokenCodec()
    return _codec


def reset_codec():
    global _codec
    _codec = None
