"""
The security activity trail: one `Activity` row per security event, written where the
event happens (the login path, the session lifecycle, the static tokens), never per
authenticated request.

`record()` is the one call for a single event; `record_sessions_ended()` writes the rows
of a bulk end (invalidate-all over thousands of sessions) in batches, and
`write_sessions_ended()` the rows the session lifecycle read with the sessions it ends
(`ended_rows()`), inside its own transaction. Both also count the
event in the Prometheus metrics (`authgate.metrics`), which keep counting when the trail
is switched off (`ACTIVITY_TRAIL = False`). No password, token or key is ever passed in:
callers give the user, the request (for its IP and user agent) and the session id.

Logins are heard through signals: Django's `user_logged_in` / `user_login_failed` and
authgate's `session_opened` (which names the session a login opened).

`purge()` enforces `ACTIVITY_RETENTION`; the `authgate_cleanup` command calls it.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from . import identity, metrics
from .models import Activity, Session, StaticToken
from .net import client_ip, valid_ip
from .conf import api_settings
from .types import User

BATCH = 500
_USERNAME_MAX = Activity._meta.get_field("username").max_length
_USER_AGENT_MAX = Activity._meta.get_field("user_agent").max_length


def _session_uuid(session_id: object) -> uuid.UUID | None:
    if session_id is None or isinstance(session_id, uuid.UUID):
        return session_id
    try:
        return uuid.UUID(hex=str(session_id).replace("-", ""))
    except ValueError:
        return None


def record(
    kind: str,
    user: User | None = None,
    request: HttpRequest | None = None,
    session_id: str | uuid.UUID | None = None,
    *,
    username: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    reason: str = "",
    **details: object,
) -> Activity | None:
    """Record one event of `kind` (an `Activity` kind); returns the row, or None when the
    trail is off. `details` must be small and JSON-serialisable, and never a secret."""
    metrics.count_event(kind, reason)
    if not api_settings.ACTIVITY_TRAIL:
        return None
    if username is None:
        username = user.get_username() if user is not None else ""
    if request is not None:
        ip = ip if ip is not None else (client_ip(request) or None)
        if user_agent is None:
            user_agent = request.META.get("HTTP_USER_AGENT", "")
    return Activity.objects.create(
        kind=kind,
        user=user if user is not None and user.pk is not None else None,
        username=(username or "")[:_USERNAME_MAX],
        session_id=_session_uuid(session_id),
        ip=valid_ip(ip),
        user_agent=(user_agent or "")[:_USER_AGENT_MAX],
        reason=reason or "",
        details=details,
    )


# (session id, user id, the session's IP, its user agent, the user's login name)
EndedRow = tuple[uuid.UUID, Any, Any, str, str]


def ended_rows(sessions: "QuerySet[Session]") -> list[EndedRow]:
    """What `write_sessions_ended()` needs of the sessions about to end: read with them, in
    the ending transaction (one query, joined with the user)."""
    return list(sessions.values_list("pk", "user_id", "ip", "user_agent", f"user__{get_user_model().USERNAME_FIELD}"))


def record_sessions_ended(rows: Iterable[tuple[uuid.UUID, Any]], reason: str, ended_at: datetime | None = None) -> int:
    """One `session_ended` row per (session id, user id) in `rows`, with the session's IP and
    user agent (the device that was signed out), counted in the metrics. A session or
    account deleted meanwhile (an admin's delete) still gets its row."""
    rows = list(rows)
    metrics.count_event(Activity.SESSION_ENDED, reason, len(rows))
    if not api_settings.ACTIVITY_TRAIL or not rows:
        return 0
    user_model = get_user_model()
    written = 0
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        devices = {
            pk: (ip, agent)
            for pk, ip, agent in Session.objects.filter(pk__in=[sid for sid, _uid in chunk]).values_list(
                "pk", "ip", "user_agent"
            )
        }
        names = dict(
            user_model._default_manager.filter(pk__in={uid for _sid, uid in chunk}).values_list(
                "pk", user_model.USERNAME_FIELD
            )
        )
        known: list[EndedRow] = []
        for session_id, user_id in chunk:
            ip, agent = devices.get(session_id, (None, ""))
            known.append((session_id, user_id if user_id in names else None, ip, agent, names.get(user_id) or ""))
        written += write_sessions_ended(known, reason, ended_at)
    return written


def write_sessions_ended(rows: Sequence[EndedRow], reason: str, ended_at: datetime | None = None) -> int:
    """The `session_ended` rows of `ended_rows()`, in batches, without a query to read them
    (the session lifecycle writes them in the ending transaction: no commit of their own);
    not counted in the metrics (the caller counts once the end commits)."""
    if not api_settings.ACTIVITY_TRAIL or not rows:
        return 0
    ended_at = ended_at or timezone.now()
    events = [
        Activity(
            kind=Activity.SESSION_ENDED,
            created_at=ended_at,
            reason=reason,
            session_id=session_id,
            user_id=user_id,
            username=(username or "")[:_USERNAME_MAX],
            ip=ip,
            user_agent=(agent or "")[:_USER_AGENT_MAX],
        )
        for session_id, user_id, ip, agent, username in rows
    ]
    return len(Activity.objects.bulk_create(events, batch_size=BATCH))


def token_rows(queryset: "QuerySet[StaticToken]") -> list[tuple[int, Any, str, str]]:
    """What `record_tokens_revoked` needs of static tokens about to be deleted."""
    return list(queryset.values_list("pk", "user_id", f"user__{get_user_model().USERNAME_FIELD}", "name"))


def record_tokens_revoked(tokens: Sequence[tuple[int, Any, str, str]]) -> int:
    """`static_token_revoked` rows for `token_rows()`, in batches."""
    metrics.count_event(Activity.STATIC_TOKEN_REVOKED, count=len(tokens))
    if not api_settings.ACTIVITY_TRAIL or not tokens:
        return 0
    now = timezone.now()
    rows = [
        Activity(
            kind=Activity.STATIC_TOKEN_REVOKED,
            created_at=now,
            user_id=user_id,
            username=(username or "")[:_USERNAME_MAX],
            details={"token_id": pk, "name": name},
        )
        for pk, user_id, username, name in tokens
    ]
    return len(Activity.objects.bulk_create(rows, batch_size=BATCH))


def _account_named(name: str) -> User | None:
    return identity.resolve(name) if name else None


# Set by a throttled attempt, consumed by the `user_login_failed` sent for that attempt.
_throttled_attempt: ContextVar[bool] = ContextVar("authgate_throttled_attempt", default=False)


# At most this many `login_throttled` rows per blocked address and minute, whatever the
# number of names it tries; past it, refused attempts are only counted in the metrics.
THROTTLED_ROWS_PER_ADDRESS = 10


def record_throttled(
    request: HttpRequest | None,
    username: object,
    user: User | None = None,
    subject: str | None = None,
) -> Activity | None:
    """A login attempt refused by the failed-login throttle (before any password check).

    Every one is counted in the metrics, but it writes at most one summary row a minute per
    (account, address) — `subject` is the throttle's key of the account the name resolves
    to, so `alice`, `ＡＬＩＣＥ` and alice's email are one — and at most
    THROTTLED_ROWS_PER_ADDRESS a minute per address: a refused attempt costs no password
    hash, and must not become a database write an attacker can repeat at will (nor flood
    the victim's activity page). The `user_login_failed` sent for the same attempt writes
    no `login_failed` row of its own."""
    _throttled_attempt.set(True)
    name = str(username or "")[:_USERNAME_MAX]
    ip = client_ip(request) or ""
    if not _first_in_minute(subject or f"name:{name.lower()}", ip):
        metrics.count_event(Activity.LOGIN_THROTTLED)
        return None
    if user is None and subject is None:
        user = _account_named(name)
    return record(Activity.LOGIN_THROTTLED, user=user, username=name, request=request)


def _first_in_minute(subject: str, ip: str) -> bool:
    """True for the first refusal of a minute for (subject, ip), while the address has
    had fewer than THROTTLED_ROWS_PER_ADDRESS such firsts this minute. Reads before it
    writes: a refusal past either bound touches no cache entry."""
    from django.core.cache import caches

    digest = hashlib.sha256(f"{subject}|{ip}".encode()).hexdigest()[:32]
    key = "authgate:activity-throttled:" + digest
    per_address = "authgate:activity-throttled-ip:" + hashlib.sha256(ip.encode()).hexdigest()[:32]
    try:
        cache = caches[api_settings.THROTTLE_CACHE]
        if (cache.get(per_address) or 0) >= THROTTLED_ROWS_PER_ADDRESS or cache.get(key) is not None:
            return False
        if not cache.add(key, 1, timeout=60):
            return False
        if cache.add(per_address, 1, timeout=60):
            return True
        return cache.incr(per_address) <= THROTTLED_ROWS_PER_ADDRESS
    except Exception:  # noqa: BLE001 — the cache is down: write the row rather than lose it
        return True


def recent_for(user: User) -> "QuerySet[Activity]":
    """The user's own events, newest first (what GET /api/auth/activity/ lists)."""
    return Activity.objects.of_user(user).order_by("-created_at", "-id")


def hourly_counts(
    kinds: Sequence[str], hours: int = 24 * 7, now: datetime | None = None
) -> tuple[dict[str, list[int]], list[datetime]]:
    """({kind: [count per hour]}, [hour starts]) for the last `hours` whole hours, this one
    included (UTC): one grouped query over the (kind, created_at) index."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    starts = [end - timedelta(hours=hours - i) for i in range(hours)]
    counts = {kind: [0] * hours for kind in kinds}
    rows = (
        Activity.objects.filter(kind__in=kinds, created_at__gte=starts[0], created_at__lt=end)
        .annotate(hour=TruncHour("created_at", tzinfo=dt_timezone.utc))
        .values_list("kind", "hour")
        .annotate(n=Count("id"))
    )
    for kind, hour, n in rows:
        index = int((hour - starts[0]).total_seconds() // 3600)
        if 0 <= index < hours:
            counts[kind][index] += n
    return counts, starts


def top_failing_ips(since: datetime, limit: int = 10) -> list[tuple[str, int]]:
    """[(ip, failed logins)] since `since`, most first."""
    return list(
        Activity.objects.filter(kind=Activity.LOGIN_FAILED, created_at__gte=since, ip__isnull=False)
        .values_list("ip")
        .annotate(n=Count("id"))
        .order_by("-n", "ip")[:limit]
    )


def purge(now: datetime | None = None) -> int:
    """Delete events older than ACTIVITY_RETENTION; returns the count (0 when kept for ever)."""
    retention = api_settings.ACTIVITY_RETENTION
    if retention is None:
        return 0
    deleted, _ = Activity.objects.older_than((now or timezone.now()) - retention).delete()
    return deleted


# -- receivers (connected by `authgate.receivers.connect()`) --------------------------------
def unlink_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    # Django cleared the user's rows before it deleted their sessions; a session end that
    # held one of those sessions meanwhile committed rows naming the user since. Cleared
    # again here, in the deletion's transaction, so that the deletion commits.
    Activity.objects.filter(user_id=instance.pk).update(user=None)


_SESSION_ATTRIBUTE = "_authgate_opened_session_id"


def remember_opened_session(sender: type, session: Session, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # The login view sends `user_logged_in` right after: its row names this session.
    if request is not None:
        setattr(request, _SESSION_ATTRIBUTE, session.pk)


def login_succeeded(sender: type, request: HttpRequest | None = None, user: User | None = None, **kwargs: Any) -> None:
    record(Activity.LOGIN_SUCCEEDED, user=user, request=request, session_id=getattr(request, _SESSION_ATTRIBUTE, None))


def login_failed(
    sender: object, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if _throttled_attempt.get():
        _throttled_attempt.set(False)
        return  # refused by the throttle: recorded (at most once a minute) as login_throttled
    # `credentials` comes with the password already masked by Django; only the name is kept.
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get(get_user_model().USERNAME_FIELD) or ""
    name = str(name)[:_USERNAME_MAX]
    record(Activity.LOGIN_FAILED, user=_account_named(name), username=name, request=request)
