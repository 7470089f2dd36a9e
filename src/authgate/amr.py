"""
Authentication method references (RFC 8176): the `amr` values a session records for how
it was opened. A plain vocabulary with no imports, so that the session layer and the
second-factor providers above it name the same values from one place.

Invariants:
- `FACTOR_AMR` is a subset of `AMR_VALUES`.
- "mfa" is never answered by a provider: authgate adds it when a session has proven two
  factors (a password and another).
"""

# RFC 8176 values a provider may answer from verify(); "mfa" is added by authgate when a
# session has proven two factors (a password and another).
AMR_VALUES = frozenset({"pwd", "otp", "hwk", "swk", "user", "pin", "fpt", "face", "sms", "mfa"})
# The values that count as a second factor for recent authentication.
FACTOR_AMR = frozenset({"otp", "hwk", "swk", "sms"})
