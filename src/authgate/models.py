"""
authgate's stored state: one `Session` row per login, hashed `StaticToken` rows, the
`AttemptCounter` rows of the attempt limits (failed logins and the like), and the
`LoginKey` rows that make each login name (username or email) belong to one account.

A session row holds everything needed to validate and re-mint its tokens (the refresh
chain's generation and the issue time of the current pair), so its size is constant
however many times it is refreshed: no token is ever stored, in plaintext or otherwise.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from django.apps import apps as django_apps
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import names

if TYPE_CHECKING:
    from .types import User


class SessionQuerySet(models.QuerySet["Session"]):
    def open(self) -> Self:
        """Sessions not ended (they may still have expired by time)."""
        return self.filter(ended_at__isnull=True)

    def active(self, now: datetime | None = None) -> Self:
        """Sessions whose tokens can still be used: not ended, not past the absolute cap."""
        now = now or timezone.now()
        return self.open().filter(expires_at__gt=now)


class Session(models.Model):
    """One login on one device. Its tokens live and die with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_sessions")
    device = models.CharField(max_length=200, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="Absolute end (SESSION_MAX_AGE after login).")
    # The refresh chain: the token of generation N is the only one that may rotate; N-1
    # is answered (with the same pair) inside the retry window; anything older is reuse.
    generation = models.PositiveIntegerField(default=1)
    issued_at = models.BigIntegerField(help_text="Unix time the current token pair was issued.")
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    end_reason = models.CharField(max_length=32, blank=True, default="")
    # How and when the session last authenticated (RFC 8176 `amr` values, space-separated,
    # e.g. "pwd" or "mfa otp pwd"); re-authentication renews both. Null for sessions opened
    # before these were recorded: their `created_at` stands in.
    amr = models.CharField(max_length=64, blank=True, default="pwd")
    auth_time = models.DateTimeField(null=True, blank=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="authgate_session_user_open")]
        # Granted to service accounts whose static token may call the RFC 7662
        # introspection endpoint (`authgate.introspect_token`).
        permissions = [("introspect_token", "Can introspect tokens (RFC 7662)")]

    def __str__(self) -> str:
        return f"{self.user} · {self.device or 'unnamed device'} · {self.id}"

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    @property
    def amr_values(self) -> list[str]:
        return self.amr.split()

    @property
    def authenticated_at(self) -> datetime:
        """When the session last authenticated (login or re-authentication)."""
        return self.auth_time or self.created_at


class StaticTokenQuerySet(models.QuerySet["StaticToken"]):
    def usable(self, now: datetime | None = None) -> Self:
        now = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class StaticToken(models.Model):
    """A named, long-lived API key (DRF TokenAuthentication parity), stored as a keyed hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_static_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = StaticTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.name or 'token'} · {self.prefix}…"


class ActivityQuerySet(models.QuerySet["Activity"]):
    def of_user(self, user: "User") -> Self:
        return self.filter(user=user)

    def older_than(self, cutoff: datetime) -> Self:
        return self.filter(created_at__lt=cutoff)


class Activity(models.Model):
    """One security event (a login, a failed one, a session ended and why...): the trail
    that the user's "Recent security activity", the admin and the dashboard read.

    Written where the event happens, never per authenticated request; it holds no
    password, token or key — at most a static token's id and name in `details`.
    """

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    SESSION_ENDED = "session_ended"
    STATIC_TOKEN_CREATED = "static_token_created"
    STATIC_TOKEN_REVOKED = "static_token_revoked"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    MFA_ADDED = "mfa_added"
    MFA_REMOVED = "mfa_removed"
    MFA_USED = "mfa_used"
    MFA_FAILED = "mfa_failed"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    REAUTHENTICATED = "reauthenticated"
    KINDS = [
        (LOGIN_SUCCEEDED, _("Login succeeded")),
        (LOGIN_FAILED, _("Login failed")),
        (LOGIN_THROTTLED, _("Login throttled")),
        (REFRESH_REUSE_DETECTED, _("Refresh token reuse detected")),
        (SESSION_ENDED, _("Session ended")),
        (STATIC_TOKEN_CREATED, _("Static token created")),
        (STATIC_TOKEN_REVOKED, _("Static token revoked")),
        (PASSWORD_CHANGED, _("Password changed")),
        (PASSWORD_RESET, _("Password reset")),
        (EMAIL_VERIFIED, _("Email verified")),
        (MFA_ADDED, _("Second factor added")),
        (MFA_REMOVED, _("Second factor removed")),
        (MFA_USED, _("Second factor used")),
        (MFA_FAILED, _("Second factor failed")),
        (RECOVERY_CODE_USED, _("Recovery code used")),
        (RECOVERY_CODES_REGENERATED, _("Recovery codes regenerated")),
        (REAUTHENTICATED, _("Re-authenticated")),
    ]

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=KINDS)
    # The account, when known; kept as a name too, so the trail outlives a deleted account
    # (and a failed login for an unknown name still says which name was tried).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authgate_activity",
    )
    username = models.CharField(max_length=150, blank=True, default="")
    session_id = models.UUIDField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    # Why a session ended (logout, logout_all, password_changed, ...), for `session_ended`.
    reason = models.CharField(max_length=32, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "activity event"
        verbose_name_plural = "activity events"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="authgate_activity_user"),
            models.Index(fields=["kind", "created_at"], name="authgate_activity_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username or '-'}"


class EmailAddress(models.Model):
    """Which address of a user was verified, and when (one row per user).

    The address itself lives on the user model (its EMAIL_FIELD, whatever the custom user
    model calls it); this row only remembers the address that a verification link proved.
    The user's email is verified while it still equals `email` (as login names compare: `authgate.names`): a
    change of address — through the API, the admin or `save()` — unverifies it by itself.

    `pending_email` is an address the user asked to change to (`PATCH me/`): it is no login
    name and blocks no one until the link mailed to it is used (`authgate.recovery`);
    `pending_since` changes with each request, so a newer one kills the older link.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_email")
    email = models.EmailField(max_length=254, blank=True, default="")
    verified_at = models.DateTimeField(null=True, blank=True)
    pending_email = models.EmailField(max_length=254, blank=True, default="")
    pending_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "verified email address"
        verbose_name_plural = "verified email addresses"

    def __str__(self) -> str:
        return f"{self.user} · {self.email or '—'}"

    def proves(self, address: str) -> bool:
        return bool(self.verified_at) and names.same(self.email, address)


class MigratedToken(models.Model):
    """A djangorestframework-simplejwt refresh token exchanged for an authgate session
    (`authgate.simplejwt_migration`): its `jti` is unique, so a token is exchanged once."""

    jti = models.CharField(max_length=255, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    exchanged_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="When the simplejwt token would have expired.")

    class Meta:
        verbose_name = "exchanged simplejwt token"
        verbose_name_plural = "exchanged simplejwt tokens"

    def __str__(self) -> str:
        return f"{self.jti} → {self.session_id or '—'}"


class AttemptCounterQuerySet(models.QuerySet["AttemptCounter"]):
    def locked(self, now: datetime | None = None) -> Self:
        """Counters that refuse hits right now: at their limit, window not yet over."""
        return self.filter(count__gte=models.F("limit"), window_ends__gt=now or timezone.now())


class AttemptCounter(models.Model):
    """One fixed-window count of attempts under a key (see `authgate.counters`)."""

    key = models.CharField(max_length=191, unique=True)
    count = models.PositiveIntegerField(default=0)
    limit = models.PositiveIntegerField()
    window_ends = models.DateTimeField(db_index=True)
    # For the people reading the list of lockouts, not for counting.
    label = models.CharField(max_length=200, blank=True, default="", help_text="Who (account or name).")
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AttemptCounterQuerySet.as_manager()

    class Meta:
        ordering = ["-window_ends"]

    def __str__(self) -> str:
        return f"{self.key} ({self.count}/{self.limit})"

    @property
    def scope(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def is_locked(self) -> bool:
        return self.count >= self.limit and self.window_ends > timezone.now()


class LoginKey(models.Model):
    """One name an account logs in with, in canonical form (`authgate.identity`): its
    username and its email share this one UNIQUE column, so no two accounts can hold the
    same name, whatever its case or width, nor one account's username another's email."""

    key = models.CharField(max_length=191, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_login_keys")

    def __str__(self) -> str:
        return self.key


class NameSkeleton(models.Model):
    """A UTS #39 skeleton of an account's username (`authgate.names.lookalikes`):
    this UNIQUE column is what refuses a second name that looks like the first (`secadmın`
    beside `secadmin`) when REFUSE_CONFUSABLE_USERNAMES is on, atomically on every database."""

    skeleton = models.CharField(max_length=191, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_skeletons")

    def __str__(self) -> str:
        return self.skeleton


class Lockout(AttemptCounter):
    """The counters refusing attempts right now, as support sees them (the admin lists
    `Lockout.objects.locked()`)."""

    class Meta:
        proxy = True
        verbose_name = "current lockout"
        ordering = ["-window_ends"]


class CredentialCutoff(models.Model):
    """When the user last signed out everywhere (logout everywhere, a password change or
    reset, an admin's logout): credentials that authgate did not issue itself and that carry
    an earlier issue time — simplejwt refresh tokens presented for exchange — are refused.
    A row without a user is the cutoff of an invalidate-all, for every user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    not_before = models.DateTimeField()

    class Meta:
        verbose_name = "credential cutoff"

    def __str__(self) -> str:
        return f"{self.user or 'everyone'} · {self.not_before.isoformat()}"


class KnownDevice(models.Model):
    """A browser or client that has signed in to the account (`authgate.notifications`):
    `key` is a hash of its long-lived device cookie, or of its user agent and network."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_devices")
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="authgate_knowndevice_user_key")]

    def __str__(self) -> str:
        return f"{self.user} · {self.key[:8]}"


class NotificationPreference(models.Model):
    """Which optional security mails a user gets (the others always go)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="authgate_notifications"
    )
    new_device = models.BooleanField(default=True, help_text="Mail on a sign-in from a new device.")

    def __str__(self) -> str:
        return f"{self.user} · new device: {self.new_device}"


# The second-factor tables belong to this app too (one migrations directory); their classes
# live in `authgate.factors` and `authgate.mfa`, and `AuthgateConfig.import_models()` registers
# them. Their old names here answer from the app registry, so that no import runs from the
# models up into those packages; they stand in `__all__`, so `from authgate.models import *`
# gives them too (once Django has loaded authgate's models, as for any model).
_SECOND_FACTOR_MODELS = frozenset(
    {"PendingLogin", "RecoveryCode", "TOTPDevice", "WebAuthnChallenge", "WebAuthnCredential"}
)


def __getattr__(name: str) -> Any:
    if name in _SECOND_FACTOR_MODELS:
        try:
            return django_apps.get_model("authgate", name, require_ready=False)
        except LookupError:
            raise AttributeError(
                f"{__name__}.{name} is registered when Django loads the authgate app's models; it is not loaded yet"
            ) from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Activity",
    "AttemptCounter",
    "CredentialCutoff",
    "EmailAddress",
    "KnownDevice",
    "Lockout",
    "LoginKey",
    "MigratedToken",
    "NotificationPreference",
    "Session",
    "StaticToken",
    *sorted(_SECOND_FACTOR_MODELS),  # answered by __getattr__ above
]
