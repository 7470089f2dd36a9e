"""
Every factor event, once: the activity trail (which also counts it in the metrics,
`authgate_mfa_events_total{event}`), and, for a factor added or removed, a mail to the
account's address (sent after the response, by `authgate.mail.outbox`).

Callers pass the user, the Django request (for IP and user agent) and small facts (the
factor type, a reason word); never a secret, a code or a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import activity, mail, recovery
from ..models import Activity
from ..types import User

if TYPE_CHECKING:
    from django.http import HttpRequest


def _session_id(request: HttpRequest | None) -> str | None:
    auth = getattr(request, "auth", None)
    return getattr(auth, "session_id", None)


def challenged(user: User, request: HttpRequest | None) -> None:
    """A right first factor answered with 403 `mfa_required` (no row: the login's own rows say it)."""


def used(user: User, request: HttpRequest | None, factor: str) -> None:
    kind = Activity.RECOVERY_CODE_USED if factor == "recovery_codes" else Activity.MFA_USED
    activity.record(kind, user=user, request=request, factor=factor)


def failed(user: User, request: HttpRequest | None, reason: str) -> None:
    activity.record(Activity.MFA_FAILED, user=user, request=request, reason=reason[:32])


def reauthenticated(user: User, request: HttpRequest | None, amr: list[str]) -> None:
    activity.record(Activity.REAUTHENTICATED, user=user, request=request, session_id=_session_id(request), amr=amr)


def codes_regenerated(user: User, request: HttpRequest | None) -> None:
    activity.record(Activity.RECOVERY_CODES_REGENERATED, user=user, request=request, session_id=_session_id(request))


def added(user: User, request: HttpRequest | None, factor: str, name: str = "") -> None:
    """A factor was turned on: recorded, and the account's address is told."""
    activity.record(Activity.MFA_ADDED, user=user, request=request, session_id=_session_id(request), factor=factor)
    _mail(user, request, factor, added=True)


def removed(user: User, request: HttpRequest | None, factor: str, *, by_staff: bool = False) -> None:
    """A factor was turned off (by the user, or by staff: `reason` says so)."""
    activity.record(
        Activity.MFA_REMOVED,
        user=user,
        request=request,
        session_id=_session_id(request),
        reason="staff" if by_staff else "",
        factor=factor,
    )
    _mail(user, request, factor, added=False)


def _mail(user: User, request: HttpRequest | None, factor: str, *, added: bool) -> None:
    address = recovery.email_of(user)
    if not address:
        return
    django_request = getattr(request, "_request", request)
    mail.outbox.send([mail.factor_changed_mail(django_request, user, factor, added=added)])
