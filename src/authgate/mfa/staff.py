"""
Support's last resort: remove every second factor of an account (its user lost the device
and the recovery codes). One function, used by the admin action and by the
`authgate_remove_factors` command: it deletes every device of every provider, the
recovery codes and any pending login, then ends every session of the user through
`sessions.end_user_sessions()` (the one place sessions end), records the event and mails
the account's address.
"""

from __future__ import annotations


from django.http import HttpRequest
from django.db import transaction

from .. import sessions
from ..factors import events, registry
from ..factors.models import PendingLogin
from ..types import User

FACTORS_REMOVED = "factors_removed"  # Session.end_reason


def remove_factors(user: User, request: HttpRequest | None = None) -> tuple[int, int]:
    """Remove every factor of `user` and end their sessions; returns (devices, sessions)."""
    with transaction.atomic():
        removed = sum(provider.remove_all(user) for provider in registry.providers() if provider.is_factor)
        for provider in registry.providers():
            if not provider.is_factor:
                provider.remove_all(user)
        PendingLogin.objects.filter(user=user).delete()
        ended = sessions.end_user_sessions(user, FACTORS_REMOVED)
    events.removed(user, request, "all", by_staff=True)
    return removed, ended
