"""
Recent authentication for sensitive actions. A session proves its second factor at login
(`mfa/verify/`), when it turns a factor on, or at `reauthenticate/`; the proof lasts
`REAUTH_WINDOW` (default 5 minutes), read from the session row (`auth_time`, `amr`), not
from the access token, so a renewal counts at once and cannot be forged by a client.

`require_recent()` guards the sensitive actions:
- always (`factor_only=True`): turning a factor off, new recovery codes;
- for an account with a second factor: password change, email change, deletion, static
  token creation — accounts without one keep giving their password in the body, and pay
  only the EXISTS query of `registry.has_factor()`.
A request authenticated by a static token has no session to have proven anything: for an
account with a factor these actions need a signed-in session.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ..conf import api_settings
from ..errors import ReauthenticationRequired
from ..models import Session
from ..net import user_of
from . import registry

if TYPE_CHECKING:
    from rest_framework.request import Request


def _session_of(request: Request) -> Session | None:
    session_id = getattr(getattr(request, "auth", None), "session_id", None)
    if not session_id:
        return None
    try:
        return Session.objects.filter(pk=uuid.UUID(hex=str(session_id)), ended_at__isnull=True).first()
    except ValueError:
        return None


def is_recent(session: Session | None) -> bool:
    """True if `session` proved a second factor within REAUTH_WINDOW."""
    if session is None or not set(session.amr_values) & registry.FACTOR_AMR:
        return False
    return session.authenticated_at >= timezone.now() - api_settings.REAUTH_WINDOW


def require_recent(request: Request, *, factor_only: bool = False) -> None:
    """Raise 403 `reauthentication_required` unless this request's session proved a second
    factor recently; with `factor_only=False`, only for an account that has a factor."""
    user = user_of(request)
    if not factor_only and not registry.has_factor(user):
        return
    if is_recent(_session_of(request)):
        return
    django_request = getattr(request, "_request", request)
    extra: dict[str, Any] = {"methods": [p.type for p in registry.enabled_providers(user)]}
    extra.update(registry.challenges(user, django_request))
    raise ReauthenticationRequired(extra)
