"""
The pending login step: a right first factor for an account with a second factor opens no
session; it makes a `PendingLogin` and answers 403 `mfa_required` with an `mfa_token`.

The token is 256 random bits shown once; only its SHA-256 is stored (full entropy: nothing
to brute-force, one indexed lookup). Every state change is one conditional UPDATE, so the
rules hold under any concurrency, on every database:
- `reserve_attempt()` takes one of the MAX_ATTEMPTS slots before a code is checked: when
  many wrong codes arrive at once, no more than MAX_ATTEMPTS are ever checked, and the
  token is dead after the fifth;
- `spend()` marks it used: of two right proofs sent at once, exactly one opens a session;
- expiry (MFA_TOKEN_LIFETIME, 5 minutes) is part of both conditions;
- a pending login started before the account was last signed out everywhere (logout
  everywhere, a password change, an admin's logout, invalidate-all: `authgate.cutoffs`)
  is dead, as its sessions are: its first factor may be what that sign-out was about.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import cutoffs
from ..conf import api_settings
from ..types import User
from . import registry
from .models import PendingLogin

if TYPE_CHECKING:
    from datetime import datetime

    from django.http import HttpRequest

TOKEN_PREFIX = "mfa_"


class PendingLoginInvalid(Exception):
    """The `mfa_token` is unknown, used, expired or dead after too many wrong codes."""

    detail = _("This sign-in attempt has expired or was already used. Sign in again.")


@dataclass(frozen=True)
class Started:
    """What the 403 `mfa_required` answer carries."""

    token: str
    methods: list[str]
    extra: dict[str, Any]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    user: User, request: HttpRequest | None, *, cookies: bool = False, device: str = "", first_factor: str = "pwd"
) -> Started:
    """Open the second step for `user`; returns the token and what to tell the client."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    PendingLogin.objects.create(
        digest=_digest(token),
        user=user,
        created_at=now,
        expires_at=now + api_settings.MFA_TOKEN_LIFETIME,
        cookies=cookies,
        device=(device or "")[:200],
        first_factor=first_factor,
    )
    enabled = registry.enabled_providers(user)
    kinds = [p.type for p in enabled]
    extra: dict[str, Any] = {}
    for provider in enabled:
        extra.update(provider.challenge(user, request))
    return Started(token=token, methods=kinds, extra=extra)


def _live(token: str) -> QuerySet[PendingLogin]:
    return PendingLogin.objects.filter(
        digest=_digest(token),
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
        attempts__lt=PendingLogin.MAX_ATTEMPTS,
    )


def find(token: object) -> PendingLogin:
    """The live pending login of `token` (with its user), else PendingLoginInvalid."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise PendingLoginInvalid()
    pending = _live(token).select_related("user").first()
    if pending is None or not pending.user.is_active:
        raise PendingLoginInvalid()
    signed_out = cutoffs.not_before(pending.user)
    if signed_out is not None and pending.created_at <= signed_out:
        raise PendingLoginInvalid()
    return pending


def reserve_attempt(pending: PendingLogin, token: str) -> None:
    """Take one of the MAX_ATTEMPTS checks of this token, or PendingLoginInvalid."""
    if _live(token).filter(pk=pending.pk).update(attempts=F("attempts") + 1) != 1:
        raise PendingLoginInvalid()


def spend(pending: PendingLogin) -> None:
    """Mark the step done: only one caller ever succeeds (the others: PendingLoginInvalid)."""
    spent = PendingLogin.objects.filter(pk=pending.pk, used_at__isnull=True, expires_at__gt=timezone.now()).update(
        used_at=timezone.now()
    )
    if spent != 1:
        raise PendingLoginInvalid()


def purge(now: datetime | None = None) -> int:
    """Delete pending logins past their lifetime (the cleanup command)."""
    return int(PendingLogin.objects.filter(expires_at__lt=now or timezone.now()).delete()[0])
