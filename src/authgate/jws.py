"""
The JWS compact form (RFC 7515) as authgate uses it, over PyJWT's own algorithm objects.

- `Signer` mints exactly the bytes `jwt.encode(payload, key, algorithm, headers)` gives
  (a test holds them equal, so servers on either side of an upgrade answer a retry with the
  same pair), with the key prepared once instead of for every token.
- `unverified_header()` reads a token's header to pick the verifying key, nothing more:
  every token is then verified by `jwt.decode`, which checks all of it. What is not a JSON
  object there is `TokenMalformed`, never an exception of another kind.
"""

import base64
import json
import warnings
from typing import Any

import jwt

from .errors import TokenMalformed


class Signer:
    """`jwt.encode(payload, key, algorithm, headers)`, byte for byte, without preparing the
    key again for every token (PyJWT re-reads an HMAC secret as a possible PEM, SSH or DER
    key each time): the header's encoding and the prepared key are computed once."""

    def __init__(self, algorithm: str, key: Any, headers: dict[str, Any] | None) -> None:
        self.algorithm = jwt.get_algorithm_by_name(algorithm)
        self.key = self.algorithm.prepare_key(key)
        check = getattr(self.algorithm, "check_key_length", None)  # PyJWT >= 2.10
        short = check(self.key) if check else None
        if short:  # PyJWT's own warning, once per codec instead of once per token
            from jwt.warnings import InsecureKeyLengthWarning

            warnings.warn(short, InsecureKeyLengthWarning, stacklevel=3)
        header = json.dumps({"typ": "JWT", "alg": algorithm, **(headers or {})}, separators=(",", ":"), sort_keys=True)
        self.header = b64url(header.encode())

    def sign(self, payload: dict[str, Any]) -> str:
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = self.header + b"." + body
        return (signing_input + b"." + b64url(self.algorithm.sign(signing_input, self.key))).decode()


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unverified_header(token: str) -> dict[str, Any]:
    """The header of `token`, to pick the verifying key: `jwt.decode` checks everything
    afterwards (PyJWT's own reading checks every character of all three segments, twice
    the work). Anything that is not a JSON object is malformed."""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise TokenMalformed() from None
    if not isinstance(header, dict):
        raise TokenMalformed()
    return header
