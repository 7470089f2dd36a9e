"""
An example resource server: a separate Flask app (not Django) that accepts authgate's
access tokens, as any other service of a deployment would.

Per request it:
1. verifies the JWT itself with authgate's JWKS — PyJWT's PyJWKClient keeps the key set
   for JWKS_CACHE_SECONDS and refetches at once when a token names an unknown `kid` (a
   key rotation); the algorithm is bound to the key and must be in ALLOWED_ALGORITHMS;
   `exp`, `iss`/`aud` (when configured) and `type == "access"` are checked;
2. asks authgate whether the token is still live (RFC 7662 introspection) and caches the
   answer per token for INTROSPECTION_CACHE_SECONDS. That is the documented delay: a
   logout at authgate is honoured here at most INTROSPECTION_CACHE_SECONDS later.
   Set it to 0 to ask on every request (no delay, one round trip each).
If authgate cannot be reached for introspection the request is refused (503): fail closed.

Configuration (environment, or a dict passed to `create_app`):
  AUTHGATE_URL                  base URL of authgate, e.g. http://127.0.0.1:8000
  AUTHGATE_INTROSPECTION_TOKEN  a static token with `authgate.introspect_token`
                                (`manage.py create_introspection_token resource-server`)
  AUTHGATE_ISSUER, AUTHGATE_AUDIENCE   expected `iss` / `aud`, when authgate sets them
  ALLOWED_ALGORITHMS            default "RS256,EdDSA"
  INTROSPECTION_CACHE_SECONDS   default 2
  JWKS_CACHE_SECONDS            default 300

Run: gunicorn --chdir examples/resource_server 'app:create_app()' --bind 127.0.0.1:9000
"""

import hashlib
import os
import threading

import cachetools
import httpx
import jwt
from flask import Flask, g, jsonify, request

JWKS_PATH = "/api/auth/.well-known/jwks.json"
INTROSPECTION_PATH = "/api/auth/introspect/"


class Unavailable(Exception):
    """authgate did not answer an introspection request."""


def _config(overrides):
    env = os.environ
    config = {
        "AUTHGATE_URL": env.get("AUTHGATE_URL", "http://127.0.0.1:8000"),
        "AUTHGATE_INTROSPECTION_TOKEN": env.get("AUTHGATE_INTROSPECTION_TOKEN", ""),
        "AUTHGATE_ISSUER": env.get("AUTHGATE_ISSUER") or None,
        "AUTHGATE_AUDIENCE": env.get("AUTHGATE_AUDIENCE") or None,
        "ALLOWED_ALGORITHMS": env.get("ALLOWED_ALGORITHMS", "RS256,EdDSA"),
        "INTROSPECTION_CACHE_SECONDS": float(env.get("INTROSPECTION_CACHE_SECONDS", "2")),
        "JWKS_CACHE_SECONDS": float(env.get("JWKS_CACHE_SECONDS", "300")),
    }
    config.update(overrides or {})
    config["AUTHGATE_URL"] = config["AUTHGATE_URL"].rstrip("/")
    if isinstance(config["ALLOWED_ALGORITHMS"], str):
        config["ALLOWED_ALGORITHMS"] = [a.strip() for a in config["ALLOWED_ALGORITHMS"].split(",") if a.strip()]
    return config


class TokenChecker:
    """Local JWT verification (JWKS) plus cached introspection: the two halves above."""

    def __init__(self, config):
        self.config = config
        self.jwks = jwt.PyJWKClient(
            config["AUTHGATE_URL"] + JWKS_PATH, lifespan=config["JWKS_CACHE_SECONDS"], timeout=5
        )
        self.http = httpx.Client(base_url=config["AUTHGATE_URL"], timeout=5)
        ttl = config["INTROSPECTION_CACHE_SECONDS"]
        # Keyed by a hash so the cache holds no usable token; failures are not cached.
        self._introspect = (
            cachetools.cached(
                cachetools.TTLCache(maxsize=10_000, ttl=ttl),
                lock=threading.Lock(),
                key=lambda token: hashlib.sha256(token.encode()).hexdigest(),
            )(self._ask)
            if ttl > 0
            else self._ask
        )

    def _ask(self, token):
        try:
            response = self.http.post(
                INTROSPECTION_PATH,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Authorization": f"Token {self.config['AUTHGATE_INTROSPECTION_TOKEN']}"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(str(exc)) from None
        if response.status_code != 200:
            raise Unavailable(f"introspection answered {response.status_code}")
        return response.json()

    def check(self, token):
        """The verified claims plus the introspection answer, or jwt.InvalidTokenError."""
        try:
            signing_key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(str(exc)) from None
        except jwt.PyJWKClientError as exc:  # unknown kid, even after a refetch
            raise jwt.InvalidTokenError(str(exc)) from None
        if signing_key.algorithm_name not in self.config["ALLOWED_ALGORITHMS"]:
            raise jwt.InvalidTokenError("key algorithm not allowed")
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[signing_key.algorithm_name],
            issuer=self.config["AUTHGATE_ISSUER"],
            audience=self.config["AUTHGATE_AUDIENCE"],
            options={"require": ["exp", "iat", "sub", "sid", "type"]},
            leeway=5,
        )
        if claims.get("type") != "access":
            raise jwt.InvalidTokenError("not an access token")
        answer = self._introspect(token)
        if not answer.get("active") or answer.get("sub") != claims["sub"]:
            raise jwt.InvalidTokenError("token is no longer active")
        return claims, answer


def _error(status, detail, code, www_authenticate=None):
    response = jsonify({"detail": detail, "code": code})
    response.status_code = status
    if www_authenticate:
        response.headers["WWW-Authenticate"] = www_authenticate
    return response


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(_config(config))
    checker = TokenChecker(app.config)

    @app.before_request
    def authenticate():
        if request.endpoint in {"health", None}:
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "Authentication credentials were not provided.", "not_authenticated", "Bearer")
        try:
            g.claims, g.introspection = checker.check(token.strip())
        except Unavailable:
            return _error(503, "The authentication service is unavailable.", "auth_unavailable")
        except jwt.InvalidTokenError:
            return _error(
                401, "Token is invalid, expired or revoked.", "token_not_valid", 'Bearer error="invalid_token"'
            )
        return None

    @app.get("/health")
    def health():
        return jsonify({"ok": True})

    @app.get("/hello")
    def hello():
        username = g.introspection.get("username", g.claims["sub"])
        return jsonify(
            {"message": f"Hello {username}, from the resource server!", "sub": g.claims["sub"], "sid": g.claims["sid"]}
        )

    return app
