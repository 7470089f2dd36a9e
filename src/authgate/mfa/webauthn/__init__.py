"""
WebAuthn security keys and passkeys: registration, passwordless login and the second
factor, verified by py_webauthn (`pip install authgate[webauthn]`), never by hand.

- `models`: `WebAuthnCredential` (one registered key) and `WebAuthnChallenge` (one
  single-use, expiring challenge; only its SHA-256 is stored).
- `ceremonies`: the relying party (RP ID and allowed origins), the options in the W3C
  Level 3 JSON forms, and the checks of a registration or an assertion. A challenge is
  consumed by one conditional DELETE before its response is verified, so a response is
  judged at most once, whatever the number of processes.
- `provider`: the `FactorProvider` that makes a key a second factor (`mfa/verify/`,
  `reauthenticate/`).

The HTTP endpoints (register, remove, passwordless login) are `authgate.api.views.webauthn`.

Only `models` is imported at start-up (by `AuthgateConfig.import_models()`); py_webauthn is imported by
`ceremonies` alone, when a ceremony runs.
"""
