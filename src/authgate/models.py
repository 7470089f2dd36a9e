"""
authgate's stored state: one `Session` row per login, and hashed `StaticToken` rows.

A session row holds everything needed to validate and re-mint its tokens (the refresh
chain's generation and the issue time of the current pair), so its size is constant
however many times it is refreshed: no token is ever stored, in plaintext or otherwise.
"""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class SessionQuerySet(models.QuerySet):
    def open(self):
        """Sessions not ended (they may still have expired by time)."""
        return self.filter(ended_at__isnull=True)

    def active(self, now=None):
        """Sessions whose tokens can still be used: not ended, not past the absolute cap."""
        now = now or timezone.now()
        return self.open().filter(expires_at__gt=now)


class Session(models.Model):
    """One login on one device. Its tokens live and die with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_sessions"
    )
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

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="authgate_session_user_open")]
        # Granted to service accounts whose static token may call the RFC 7662
        # introspection endpoint (`authgate.introspect_token`).
        permissions = [("introspect_token", "Can introspect tokens (RFC 7662)")]

    def __str__(self):
        return f"{self.user} · {self.device or 'unnamed device'} · {self.id}"

    @property
    def is_ended(self):
        return self.ended_at is not None


class StaticTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class StaticToken(models.Model):
    """A named, long-lived API key (DRF TokenAuthentication parity), stored as a keyed hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authgate_static_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = StaticTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} · {self.name or 'token'} · {self.prefix}…"
