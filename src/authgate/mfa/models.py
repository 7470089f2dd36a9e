"""
The stored state of second factors, in the `authgate` app (its migrations directory):

- `TOTPDevice`: one authenticator app per user. The shared secret is stored encrypted
  (`authgate.mfa.crypto`, Fernet under MFA_ENCRYPTION_KEYS or a key derived from
  SECRET_KEY), never in plaintext. `last_step` is the last RFC 6238 time step accepted:
  a code is accepted only for a later step, written by a compare-and-set UPDATE, so one
  code works once even when sent twice at the same moment.
- `RecoveryCode`: ten single-use codes per set, each stored as a keyed hash; `used_at`
  is set by a compare-and-set UPDATE (one use, whatever the concurrency).
- `PendingLogin` lives below, in `authgate.factors.models` (the login step the gate
  opens); it is re-exported here, the very class.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..factors.models import PendingLogin as PendingLogin  # re-exported: its old home

APP_LABEL = "authgate"


class TOTPDevice(models.Model):
    """An authenticator app (RFC 6238). Off until confirmed with a first code."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_totp_devices")
    name = models.CharField(max_length=100, blank=True, default="Authenticator app")
    encrypted_secret = models.TextField(editable=False, help_text="Fernet token of the base32 secret.")
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        app_label = APP_LABEL
        verbose_name = "TOTP device"
        indexes = [models.Index(fields=["user", "confirmed"], name="authgate_totp_user")]

    def __str__(self) -> str:
        state = "on" if self.confirmed else "set-up pending"
        return f"{self.user} · TOTP ({state})"


class RecoveryCode(models.Model):
    """One single-use recovery code of a user's current set (a keyed hash of it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_recovery_codes")
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = APP_LABEL
        indexes = [models.Index(fields=["user", "digest"], name="authgate_recovery_lookup")]

    def __str__(self) -> str:
        return f"{self.user} · recovery code ({'used' if self.used_at else 'unused'})"
