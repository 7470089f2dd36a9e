"""
Interop proof: authgate's tokens and JWKS, checked by joserfc — a JOSE implementation that
shares no code with PyJWT — exactly as a resource server in another stack would.
"""

import warnings

import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from ..support.interop import asymmetric, b64, unverified_parts
from ..support.interop import fast_password_hashing  # noqa: F401 (autouse fixture)

JWKS = "/api/auth/.well-known/jwks.json"


@pytest.fixture(autouse=True)
def _eddsa_is_fine_here():
    # joserfc flags the "EdDSA" name as superseded by RFC 9864's "Ed25519" (same
    # signature scheme); PyJWT, and so authgate, still name it "EdDSA".
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")
        yield


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_joserfc_verifies_authgate_tokens_with_the_published_jwks(algorithm, settings, api_client, user, tokens_for):
    settings.AUTHGATE = asymmetric(algorithm, VERIFYING_KEYS={}, ISSUER="https://auth.example.com")
    body = tokens_for(user)
    key_set = KeySet.import_key_set(api_client.get(JWKS).json())

    # RFC 7638: joserfc computes the same thumbprint that authgate uses as the kid.
    assert [jwk.thumbprint() for jwk in key_set.keys] == [jwk.kid for jwk in key_set.keys]

    for token, token_type in ((body["access"], "access"), (body["refresh"], "refresh")):
        decoded = jose_jwt.decode(token, key_set, algorithms=[algorithm])
        assert decoded.header["alg"] == algorithm
        assert decoded.header["kid"] == key_set.keys[0].kid
        registry = jose_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": "https://auth.example.com"},
            sub={"essential": True, "value": str(user.pk)},
            type={"essential": True, "value": token_type},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(decoded.claims)  # raises if a claim is missing, wrong or expired
        assert decoded.claims["sid"] == body["session_id"].replace("-", "")


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_joserfc_rejects_a_tampered_authgate_token(algorithm, settings, api_client, user, tokens_for):
    settings.AUTHGATE = asymmetric(algorithm)
    access = tokens_for(user)["access"]
    key_set = KeySet.import_key_set(api_client.get(JWKS).json())
    header, _payload, signature = access.split(".")
    claims = unverified_parts(access)[1]
    tampered = f"{header}.{b64({**claims, 'sub': 'someone-else'})}.{signature}"
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(tampered, key_set, algorithms=[algorithm])
