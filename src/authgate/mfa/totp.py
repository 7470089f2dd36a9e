"""
TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps) with `pyotp`, and its provider.

Set-up (`start_setup`) stores a new unconfirmed device, its secret encrypted
(`authgate.mfa.crypto`), replacing any earlier unconfirmed one; `confirm` turns it on with
a first code. A code is accepted for the current step or one step either side, and only
for a step later than the last one accepted (`TOTPDevice.last_step`, moved by a
compare-and-set UPDATE): a code works once, even when sent twice at the same moment, and
an older code is refused after a newer one was used. Code comparison is constant-time.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..factors import FactorProvider, InvalidProof
from . import crypto
from .models import TOTPDevice
from ..types import User

if TYPE_CHECKING:
    from django.http import HttpRequest

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1  # steps either side


def _pyotp() -> Any:
    try:
        import pyotp
    except ImportError as exc:  # the extra is not installed
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("TOTP needs pyotp: pip install 'authgate[mfa]'.") from exc
    return pyotp


def _totp(secret: str) -> Any:
    return _pyotp().TOTP(secret, digits=DIGITS, interval=INTERVAL)


def normalise(code: object) -> str | None:
    """The code as 6 digits (spaces and dashes dropped), or None if it cannot be a TOTP code."""
    if not isinstance(code, str):
        return None
    digits = code.replace(" ", "").replace("-", "")
    return digits if len(digits) == DIGITS and digits.isascii() and digits.isdigit() else None


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (within ±VALID_WINDOW) whose code is `code`, or None. Every candidate
    step is compared, so the time taken does not say which one matched."""
    totp = _totp(secret)
    now = time.time() if now is None else now
    current = totp.timecode(now)
    found = None
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(current + offset), code):
            found = current + offset
    return found


def _claim_step(device: TOTPDevice, step: int) -> bool:
    """Move the device's last accepted step to `step`, if no later or equal one was taken."""
    updated = (
        TOTPDevice.objects.filter(pk=device.pk)
        .filter(Q(last_step__isnull=True) | Q(last_step__lt=step))
        .update(last_step=step, last_used_at=timezone.now())
    )
    return updated == 1


def check(device: TOTPDevice, code: str) -> None:
    """Accept `code` once for `device`, or raise InvalidProof."""
    secret = crypto.decrypt(device.encrypted_secret)
    step = matching_step(secret, code)
    if step is None:
        raise InvalidProof("wrong_code")
    if not _claim_step(device, step):
        raise InvalidProof("code_reused")


# -- set-up --------------------------------------------------------------------------------
def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    return str(_totp(secret).provisioning_uri(name=account_name, issuer_name=issuer))


def qr_svg(data: str) -> str:
    """An inline SVG (no XML declaration) of a QR code of `data`, drawn by segno."""
    try:
        import segno
    except ImportError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("The TOTP QR code needs segno: pip install 'authgate[mfa]'.") from exc
    return str(segno.make(data, error="m").svg_inline(scale=4, title=str(_("Scan with your authenticator app"))))


def start_setup(user: User) -> tuple[TOTPDevice, str]:
    """A new unconfirmed device for `user` (earlier unconfirmed ones are dropped); returns
    (device, base32 secret). The secret is returned this once, and stored encrypted."""
    secret = _pyotp().random_base32()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, encrypted_secret=crypto.encrypt(secret))
    return device, secret


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-created_at").first()


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def confirm(device: TOTPDevice, code: str) -> bool:
    """Turn `device` on with its first code; False when the code is wrong (or the device
    was turned on meanwhile by a concurrent confirmation)."""
    normalised = normalise(code)
    if normalised is None:
        return False
    try:
        check(device, normalised)
    except InvalidProof:
        return False
    return TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True) == 1


def remove(user: User) -> int:
    return int(TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0))


class TOTPProvider(FactorProvider):
    """Authenticator apps: `{"code": "123456"}`, amr `otp`."""

    type = "totp"

    def methods(self, user: User) -> list[dict[str, Any]]:
        return [
            {
                "type": self.type,
                "id": device.pk,
                "name": device.name,
                "created_at": device.created_at,
                "last_used_at": device.last_used_at,
            }
            for device in TOTPDevice.objects.filter(user=user, confirmed=True)
        ]

    def is_enabled(self, user: User) -> bool:
        return TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    def verify(self, user: User, request: HttpRequest | None, data: dict[str, Any]) -> str | None:
        code = normalise(data.get("code"))
        if code is None:
            return None
        device = confirmed_device(user)
        if device is None:
            return None
        check(device, code)
        return "otp"

    def remove_all(self, user: User) -> int:
        return remove(user)
