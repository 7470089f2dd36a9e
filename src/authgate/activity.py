"""
The security activity trail: one `Activity` row per security event, written where the
event happens (the login path, the session lifecycle, the static tokens), never per
authenticated request.

`record()` is the one call for a single event; `record_sessions_ended()` writes the rows
of a bulk end (invalidate-all over thousands of sessions) in batches. Both also count the
event in the Prometheus metrics (`authgate.metrics`), which keep counting when the trail
is switched off (`ACTIVITY_TRAIL = False`). No password, token or key is ever passed in:
callers give the user, the request (for its IP and user agent) and the session id.

`purge()` enforces `ACTIVITY_RETENTION`; the `authgate_cleanup` command calls it.
"""
import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from . import metrics
from .models import Activity
from .settings import api_settings

BATCH = 500
_USERNAME_MAX = Activity._meta.get_field("username").max_length
_USER_AGENT_MAX = Activity._meta.get_field("user_agent").max_length


def client_ip(request):
    from .throttling import client_ip as ip_of  # the login throttle's notion of "the client"

    return ip_of(request) or None


def _session_uuid(session_id):
    if session_id is None or isinstance(session_id, uuid.UUID):
        return session_id
    try:
        return uuid.UUID(hex=str(session_id).replace("-", ""))
    except ValueError:
        return None


def _valid_ip(ip):
    """An address Django's GenericIPAddressField accepts, else None (a header may lie)."""
    if not ip:
        return None
    import ipaddress

    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def record(kind, user=None, request=None, session_id=None, *, username=None, ip=None,
           user_agent=None, reason="", **details):
    """Record one event of `kind` (an `Activity` kind); returns the row, or None when the
    trail is off. `details` must be small and JSON-serialisable, and never a secret."""
    metrics.count_event(kind, reason)
    if not api_settings.ACTIVITY_TRAIL:
        return None
    if username is None:
        username = user.get_username() if user is not None else ""
    if request is not None:
        ip = ip if ip is not None else client_ip(request)
        if user_agent is None:
            user_agent = request.META.get("HTTP_USER_AGENT", "")
    return Activity.objects.create(
        kind=kind,
        user=user if user is not None and user.pk is not None else None,
        username=(username or "")[:_USERNAME_MAX],
        session_id=_session_uuid(session_id),
        ip=_valid_ip(ip),
        user_agent=(user_agent or "")[:_USER_AGENT_MAX],
        reason=reason or "",
        details=details,
    )


def record_sessions_ended(session_ids, reason, ended_at=None):
    """One `session_ended` row per session in `session_ids`, with each session's own user,
    IP and user agent (the device that was signed out); written in batches."""
    session_ids = list(session_ids)
    metrics.count_event(Activity.SESSION_ENDED, reason, len(session_ids))
    if not api_settings.ACTIVITY_TRAIL or not session_ids:
        return 0
    from .models import Session

    username_field = f"user__{get_user_model().USERNAME_FIELD}"
    ended_at = ended_at or timezone.now()
    written = 0
    for start in range(0, len(session_ids), BATCH):
        chunk = session_ids[start:start + BATCH]
        rows = Session.objects.filter(pk__in=chunk).values_list("pk", "user_id", username_field, "ip", "user_agent")
        written += len(Activity.objects.bulk_create(
            [
                Activity(kind=Activity.SESSION_ENDED, created_at=ended_at, user_id=user_id,
                         username=(username or "")[:_USERNAME_MAX], session_id=pk, ip=ip,
                         user_agent=(agent or "")[:_USER_AGENT_MAX], reason=reason)
                for pk, user_id, username, ip, agent in rows
            ],
            batch_size=BATCH,
        ))
    return written


def recent_for(user):
    """The user's own events, newest first (what GET /api/auth/activity/ lists)."""
    return Activity.objects.of_user(user).order_by("-created_at", "-id")


def purge(now=None):
    """Delete events older than ACTIVITY_RETENTION; returns the count (0 when kept for ever)."""
    retention = api_settings.ACTIVITY_RETENTION
    if retention is None:
        return 0
    deleted, _ = Activity.objects.older_than((now or timezone.now()) - retention).delete()
    return deleted
