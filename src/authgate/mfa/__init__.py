"""
Second factors: TOTP, recovery codes and the factor-provider registry that other factors
(WebAuthn) plug into; the pending login step (`mfa_token`) and recent authentication.

Import-light on purpose: `AuthgateConfig.import_models()` imports `authgate.mfa.models` so
that the factor tables belong to the `authgate` app (one migrations directory). Everything
else is imported where it is used: `authgate.mfa.providers` (the registry and its ABC, which
live in `authgate.factors` so that the password gate below mfa can ask them),
`authgate.mfa.totp`, `authgate.mfa.recovery_codes`, `authgate.mfa.pending` (the login
step), `authgate.mfa.reauth` (recent authentication). The optional libraries (pyotp,
segno) are needed only by TOTP set-up and checks: `pip install authgate[mfa]`.
"""
