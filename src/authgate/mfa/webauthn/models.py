"""
The stored state of WebAuthn, in the `authgate` app (its migrations directory).

- `WebAuthnCredential`: one security key or passkey of a user. `credential_id` (the
  base64url of the raw id) is unique across all users, so an assertion names exactly one
  account. The public key is the COSE key as the authenticator gave it; `sign_count` only
  moves forward, by a compare-and-set UPDATE (`ceremonies.record_use`), so an assertion
  with a counter not above the stored one is refused even when two arrive at once.
- `WebAuthnChallenge`: one challenge handed out by a `begin` step. Only the SHA-256 of the
  challenge is stored (the browser sends the challenge back inside clientDataJSON; its
  digest finds the row). A challenge is single-use — consumed by one conditional DELETE
  before the response is verified — and dead after `expires_at`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

APP_LABEL = "authgate"


class WebAuthnCredential(models.Model):
    """A registered security key or passkey (a public key and what we know about it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_webauthn_credentials"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url of the raw credential id.")
    public_key = models.BinaryField(help_text="COSE public key.")
    sign_count = models.BigIntegerField(default=0)
    # The user handle the authenticator stores with a discoverable credential (random, not
    # the user's id): a passwordless assertion must name the same one.
    user_handle = models.CharField(max_length=128, editable=False)
    transports = models.JSONField(default=list, blank=True)
    discoverable = models.BooleanField(null=True, blank=True, help_text="credProps.rk, when the browser told.")
    backup_eligible = models.BooleanField(default=False, help_text="A synced (multi-device) passkey.")
    backed_up = models.BooleanField(default=False)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = APP_LABEL
        verbose_name = "WebAuthn credential"

    def __str__(self) -> str:
        return f"{self.user} · {self.name or 'security key'}"

    @property
    def amr(self) -> str:
        """RFC 8176: `swk` for a synced passkey (the key leaves the device), else `hwk`."""
        return "swk" if self.backup_eligible else "hwk"


class WebAuthnChallenge(models.Model):
    """A single-use challenge of one ceremony (see the module docstring)."""

    REGISTER = "register"
    LOGIN = "login"  # passwordless: no user yet
    FACTOR = "factor"  # second factor of a pending login, or re-authentication
    PURPOSES = [(REGISTER, "registration"), (LOGIN, "passwordless login"), (FACTOR, "second factor")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    purpose = models.CharField(max_length=16, choices=PURPOSES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    rp_id = models.CharField(max_length=253)
    user_handle = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = APP_LABEL
        verbose_name = "WebAuthn challenge"

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} challenge until {self.expires_at:%Y-%m-%d %H:%M:%S}"
