"""
Recovery codes: ten single-use codes per set, shown once when made, stored as keyed
hashes (HMAC-SHA256 under SECRET_KEY, as static tokens are: a code has 50 random bits,
nothing a password hasher would add, and the lookup is one indexed equality).

`issue()` replaces the user's whole set (the old codes stop working in the same
transaction); `use()` spends one code with a compare-and-set UPDATE, so a code works once
whatever the concurrency. Codes look like `k3m9x-2qa7b` (lower-case base32, no 0/1/8/9
ambiguity with letters): never six digits, so a TOTP code is never taken for one. Input
is compared case-insensitively, spaces and dashes ignored.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..factors import FactorProvider, InvalidProof
from .models import RecoveryCode
from ..types import User

if TYPE_CHECKING:
    from django.http import HttpRequest

COUNT = 10
_ALPHABET = "abcdefghijkmnpqrstuvwxyz234567"  # no l, o (read as 1, 0)
_LENGTH = 10
_SALT = "authgate.mfa.recovery-code"


def normalise(code: object) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    cleaned = code.replace(" ", "").replace("-", "").lower()
    if len(cleaned) != _LENGTH or not all(c in _ALPHABET for c in cleaned):
        return None
    return cleaned


def digest(code: str, secret: str | None = None) -> str:
    return salted_hmac(_SALT, code, secret=secret, algorithm="sha256").hexdigest()


def _candidate_digests(code: str) -> list[str]:
    return [digest(code)] + [digest(code, old) for old in getattr(settings, "SECRET_KEY_FALLBACKS", ())]


def _generate() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def issue(user: User) -> list[str]:
    """A new set of COUNT codes for `user`, replacing the old set; the codes are returned
    this once and never stored."""
    codes = [_generate() for _ in range(COUNT)]
    now = timezone.now()
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, digest=digest(normalise(code) or ""), created_at=now) for code in codes]
        )
    return codes


def remaining(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def use(user: User, code: str) -> bool:
    """Spend `code` (normalised) of `user`: True once, False for an unknown or used code."""
    updated = RecoveryCode.objects.filter(user=user, digest__in=_candidate_digests(code), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return updated >= 1


def remove(user: User) -> int:
    return int(RecoveryCode.objects.filter(user=user).delete()[0])


class RecoveryCodeProvider(FactorProvider):
    """Recovery codes: `{"code": "k3m9x-2qa7b"}`, amr `otp` (a one-time password).
    A fallback, not a factor: having codes does not put an account under a second factor."""

    type = "recovery_codes"
    is_factor = False

    def methods(self, user: User) -> list[dict[str, Any]]:
        return []

    def is_enabled(self, user: User) -> bool:
        return False

    def verify(self, user: User, request: HttpRequest | None, data: dict[str, Any]) -> str | None:
        code = normalise(data.get("code"))
        if code is None:
            return None
        if not use(user, code):
            raise InvalidProof("wrong_recovery_code")
        return "otp"

    def remove_all(self, user: User) -> int:
        return remove(user)
