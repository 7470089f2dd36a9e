"""
The table of the pending login step, in the `authgate` app (its migrations directory):

- `PendingLogin`: the step between a right password and the second factor. The
  `mfa_token` itself is never stored, only its hash; the row lives `PENDING_LOGIN_TTL`
  (5 minutes), is spent once (`used_at`) and dies after `MAX_ATTEMPTS` codes were tried
  (`attempts`, reserved before each check by a conditional UPDATE). It remembers what the
  login asked for (cookies, device label) so the second step answers what login would.

It stands with the gate that opens it (`authgate.factors`), below the factors; its old
path `authgate.mfa.models.PendingLogin` names the very class.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

APP_LABEL = "authgate"


class PendingLogin(models.Model):
    """A login waiting for its second factor (the `mfa_token` answered with 403 `mfa_required`)."""

    MAX_ATTEMPTS = 5

    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What the first step asked for and proved, so the second answers what login would.
    cookies = models.BooleanField(default=False)
    device = models.CharField(max_length=200, blank=True, default="")
    first_factor = models.CharField(max_length=16, default="pwd")

    class Meta:
        app_label = APP_LABEL
        verbose_name = "pending login (second factor)"

    def __str__(self) -> str:
        return f"{self.user} · pending login · {self.created_at:%Y-%m-%d %H:%M:%S}"
