"""
Minting and reading JWTs through PyJWT, with the signing key prepared once.

- `Signer` mints with PyJWT's own JWS encoder (`jwt.api_jws.PyJWS`), so the tokens are
  exactly the bytes `jwt.encode(payload, key, algorithm, headers)` gives (a test holds them
  equal, so servers on either side of an upgrade answer a retry with the same pair). The
  only difference: its HMAC algorithm is registered with the secret already prepared
  (PyJWT re-reads an HMAC secret as a possible PEM, SSH or DER key for every token);
  asymmetric keys are key objects already, which PyJWT takes as they are.
- Nothing here parses or verifies a token: `jwt.decode` / `jwt.decode_complete` do, and
  `jwt.get_unverified_header` reads a header where a key must be picked by its "kid".
"""

import json
from typing import Any

from jwt.algorithms import HMACAlgorithm, get_default_algorithms
from jwt.api_jws import PyJWS


class _PreparedHMAC(HMACAlgorithm):
    """PyJWT's HMAC algorithm, with one secret prepared ahead (any other key as PyJWT does)."""

    def __init__(self, hash_alg: Any, secret: Any) -> None:
        super().__init__(hash_alg)
        self._secret = secret
        self._prepared = super().prepare_key(secret)

    def prepare_key(self, key: Any) -> bytes:
        if key is self._secret:
            return self._prepared
        return super().prepare_key(key)


class Signer:
    """`jwt.encode(payload, key, algorithm, headers)` for one key and algorithm."""

    def __init__(self, algorithm: str, key: Any, headers: dict[str, Any] | None) -> None:
        self.algorithm = algorithm
        self.key = key
        self.headers = headers
        self._jws = PyJWS(algorithms=[algorithm])
        default = get_default_algorithms()[algorithm]
        if isinstance(default, HMACAlgorithm):
            self._jws.unregister_algorithm(algorithm)
            self._jws.register_algorithm(algorithm, _PreparedHMAC(default.hash_alg, key))

    def sign(self, payload: dict[str, Any]) -> str:
        # As `jwt.encode` serialises a payload of plain values (authgate's claims are).
        body = json.dumps(payload, separators=(",", ":")).encode()
        return self._jws.encode(body, self.key, algorithm=self.algorithm, headers=self.headers)
