"""
The HTTP API (Django REST framework): authentication classes (`authentication`), views split
by area (`views/`), serializers, the auth cookies (`cookies`), OpenAPI schema helpers
(`schema`), the resource-server endpoints (`oauth`: JWKS, introspection, revocation) and the
URLs (`urls`, included under `api/auth/`).

Invariant: no view decides what a token means or how a session ends; each one validates
input, calls the session lifecycle (`authgate.sessions`) or another domain module, and shapes
output. The old flat module paths (`authgate.views`, `authgate.serializers`, ...) are the
same modules (`authgate._moved`).
"""
