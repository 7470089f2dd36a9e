"""
Second factors: TOTP and recovery codes (and WebAuthn, `authgate.mfa.webauthn`), each a
`FactorProvider` that plugs into the registry of `authgate.factors`; their tables, admin
actions, staff removal and the admin's login form.

What every way in asks of a second factor stands below this package, in `authgate.factors`
(the registry, the gate, the pending login step, factor events, recent authentication),
and the HTTP views stand above it, in `authgate.api.views.mfa` and `.webauthn`. Their old
paths here (`authgate.mfa.providers`, `.gate`, `.pending`, `.events`, `.reauth`, `.views`,
`.webauthn.views`) name the very same objects.

Import-light on purpose: `AuthgateConfig.import_models()` imports `authgate.mfa.models` so
that the factor tables belong to the `authgate` app (one migrations directory). The optional
libraries (pyotp, segno) are needed only by TOTP set-up and checks: `pip install authgate[mfa]`.
"""
