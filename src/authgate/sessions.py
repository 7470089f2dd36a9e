"""
The session lifecycle, in one place: open (login), rotate (refresh), authenticate (every
request), and end (logout, logout everywhere, password change, deactivation, admin).

"Where is a session ended?" — `end_sessions()` below, and nowhere else: it marks the rows
in the database (the record) and tells the revocation store, so every server process
refuses the session's tokens on its next request.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import activity, cutoffs, metrics, rotation, signals
from .amr import FACTOR_AMR
from .models import Activity, Session, SessionQuerySet
from .prepared import PreparedGet
from .revocation import get_store, messages
from .conf import api_settings
from .errors import TokenMalformed, TokenRevoked, TokenWrongType, UserInactive
from .tokens import ACCESS, REFRESH, Claims, TokenPair, get_codec
from .types import User

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("authgate.sessions")

# Why a session ended (Session.end_reason); "user_inactive" answers as that reason.
LOGOUT = "logout"
LOGOUT_ALL = "logout_all"
PASSWORD_CHANGED = "password_changed"
USER_INACTIVE = "user_inactive"
ADMIN = "admin"
INVALIDATE_ALL = "invalidate_all"
REUSE_DETECTED = "reuse_detected"

BLACKLISTED = TokenRevoked.default_detail


class ReuseDetected(TokenRevoked):
    """A spent refresh token presented again: its session (`.session`) has been ended."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


def _now_seconds() -> int:
    return int(time.time())


# -- open ----------------------------------------------------------------------------------
def amr_string(values: "Iterable[str]") -> str:
    """The stored form of a set of `amr` values: sorted, unique, with "mfa" when a password
    and a second factor (or two factors) were both proven."""
    found = {value for value in values if value}
    if len(found & FACTOR_AMR) + ("pwd" in found) + ("user" in found) >= 2:
        found.add("mfa")
    return " ".join(sorted(found))


def open_session(
    user: User,
    *,
    device: str = "",
    ip: str | None = None,
    user_agent: str = "",
    request: "HttpRequest | None" = None,
    amr: "Iterable[str]" = ("pwd",),
) -> tuple[Session, TokenPair]:
    """Start a session for `user` (a login); returns (session, TokenPair). `amr`: how the
    login was proven (RFC 8176 values: "pwd", "otp", "hwk"...); `auth_time` is now.
    `request` (the Django HttpRequest, if any) is passed on to `session_opened` receivers."""
    now = timezone.now()
    session = Session.objects.create(
        amr=amr_string(amr),
        auth_time=now,
        user=user,
        device=(device or "")[:200],
        ip=ip,
        user_agent=(user_agent or "")[:500],
        created_at=now,
        last_used_at=now,
        expires_at=now + api_settings.SESSION_MAX_AGE,
        generation=1,
        issued_at=_now_seconds(),
    )
    signals.session_opened.send(sender=Session, session=session, user=user, request=request)
    return session, get_codec().pair_for(session)


# -- rotate --------------------------------------------------------------------------------
_session_with_user = PreparedGet(Session, select_related=["user"])


def _session_id(claims: Claims) -> uuid.UUID:
    try:
        return uuid.UUID(hex=claims.session_id)
    except ValueError:
        raise TokenMalformed() from None


def _session_for_claims(claims: Claims) -> Session:
    """The row a verified token names, with its user; TokenError when it cannot be used."""
    session = _session_with_user.get(_session_id(claims))  # the one query of a request
    if session is None or str(session.user_id) != claims.user_id:
        raise TokenRevoked()
    if not session.user.is_active:
        raise UserInactive()
    if session.ended_at is not None:
        raise TokenRevoked()
    return session


def rotate(raw_refresh: str) -> TokenPair:
    """
    Spend a refresh token and return the session's next pair.

    Exactly one caller can advance generation N to N+1 (a compare-and-set UPDATE), so
    concurrent refreshes never fork the chain. A caller that presents generation N-1
    within REFRESH_RETRY_WINDOW of the rotation gets the current pair again, byte for
    byte; any other stale generation is reuse: the whole session is ended.
    """
    codec = get_codec()
    claims = codec.decode(raw_refresh, REFRESH)
    presented = claims.generation
    if api_settings.ROTATE_REFRESH_TOKENS and rotation.available():
        # The usual case in one statement: the move and every check, the row back. When
        # it moves nothing, the row is read and judged below as if it had not been tried.
        moved = rotation.advance_returning(_session_id(claims), claims.user_id, presented, _now_seconds())
        if moved is not None:
            metrics.count_refresh("rotated")
            return codec.pair_for(moved)
    session = _session_for_claims(claims)

    if not api_settings.ROTATE_REFRESH_TOKENS and presented == session.generation:
        _touch(session)
        metrics.count_refresh("rotated")
        return TokenPair(access=codec.access_for(session, issued_at=_now_seconds()), refresh=raw_refresh)

    if presented == session.generation:
        issued_at = _now_seconds()
        if rotation.advance(session.pk, presented, issued_at):
            session.generation = presented + 1
            session.issued_at = issued_at
            metrics.count_refresh("rotated")
            return codec.pair_for(session)
        session = _session_for_claims(claims)  # lost the race: read the winner's state

    window = api_settings.REFRESH_RETRY_WINDOW.total_seconds()
    # `issued_at` has whole-second resolution, so a zero window must be tested explicitly:
    # otherwise a retry within the same second would still be answered.
    if window > 0 and presented == session.generation - 1 and _now_seconds() - session.issued_at <= window:
        metrics.count_refresh("retried")
        return codec.pair_for(session)

    if presented < session.generation:
        logger.warning("Refresh token reuse detected; ending session %s.", session.pk)
        signals.refresh_reuse_detected.send(sender=Session, session=session, user_id=session.user_id)
        end_sessions(Session.objects.filter(pk=session.pk), REUSE_DETECTED)
        raise ReuseDetected(session)
    raise TokenRevoked()


def verify(raw: str) -> tuple[Claims, Session]:
    """(claims, session) if `raw` is a live access token or the current refresh token,
    else TokenError."""
    codec = get_codec()
    try:
        claims = codec.decode(raw, ACCESS)
    except TokenWrongType:
        claims = codec.decode(raw, REFRESH)
    session = _session_for_claims(claims)
    if claims.token_type == REFRESH and claims.generation != session.generation:
        raise TokenRevoked()
    return claims, session


# -- check (every request) -----------------------------------------------------------------
class AccessContext:
    """What an authenticated request knows about its credential (DRF's `request.auth`)."""

    __slots__ = ("claims", "session_id")

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.session_id = claims.session_id

    def __str__(self) -> str:
        return f"access token of session {self.session_id}"


def authenticate_access(raw_access: str) -> tuple[User, AccessContext]:
    """(user, AccessContext) for a valid access token of a live session, else TokenError.

    A session this process has found live and has heard nothing about since is answered
    from memory (see `revocation`); any other is read from the database (one query)."""
    claims = get_codec().decode(raw_access, ACCESS)
    return cached_access(claims) or access_from_database(claims)


def cached_access(claims: Claims) -> tuple[User, AccessContext] | None:
    """The memory half of `authenticate_access` (no I/O): None when the database must answer."""
    user = get_store().live_user(claims.session_id, claims.user_id)
    return None if user is None else (user, AccessContext(claims))


def access_from_database(claims: Claims) -> tuple[User, AccessContext]:
    """The database half of `authenticate_access`: reads the session; the store remembers
    it if nothing changed meanwhile (its race protocol stays inside `load_user`)."""
    user = get_store().load_user(claims.session_id, claims.user_id, _load_user, claims)
    return user, AccessContext(claims)


def session_user(claims: Claims) -> User:
    """The user of a verified access token's live session, else TokenError: the memory half,
    then the database half, of `authenticate_access` (the authentication hook `get_user`)."""
    store = get_store()
    cached: User | None = store.live_user(claims.session_id, claims.user_id)
    if cached is not None:
        return cached
    loaded: User = store.load_user(claims.session_id, claims.user_id, _load_user, claims)
    return loaded


def _load_user(claims: Claims) -> tuple[User, bool]:
    """The database read: (user, whether the store may remember it)."""
    session = _session_for_claims(claims)
    _touch(session)
    # The cache knows sessions by their canonical id (a token may spell it otherwise).
    return session.user, session.id.hex == claims.session_id


def record_authentication(session_id: str, amr: "Iterable[str]") -> tuple[datetime, list[str]]:
    """A re-authentication (or a factor turned on) in session `session_id`: `auth_time`
    becomes now and `amr` gains `amr`; returns (auth_time, amr values). The session's
    current tokens keep their claims until the next refresh: the row is what counts."""
    session = Session.objects.get(pk=uuid.UUID(hex=str(session_id).replace("-", "")))
    now = timezone.now()
    combined = amr_string([*session.amr_values, *amr])
    Session.objects.filter(pk=session.pk).update(amr=combined, auth_time=now)
    return now, combined.split()


def _touch(session: Session) -> None:
    """Record use, at most once per LAST_USED_UPDATE_INTERVAL (not a write per request)."""
    now = timezone.now()
    if now - session.last_used_at >= api_settings.LAST_USED_UPDATE_INTERVAL:
        Session.objects.filter(pk=session.pk).update(last_used_at=now)
        session.last_used_at = now


# -- end -----------------------------------------------------------------------------------
def end_sessions(queryset: SessionQuerySet, reason: str) -> int:
    """End every open session in `queryset`; returns how many this call ended.

    A session that another transaction ends or deletes (with its user) between the read
    and the UPDATE is not this call's: it gets no activity row here. Those the UPDATE ended
    stay locked until the commit, and Django deletes a user's sessions before the user, so
    every user an activity row names still exists when the end commits."""
    with transaction.atomic():
        # What the activity trail records of them is read with them: its rows commit with
        # the end, in this one transaction (no query or commit of their own).
        ended = activity.ended_rows(queryset.open())
        if not ended:
            return 0
        ids = [row[0] for row in ended]
        now = timezone.now()
        count = Session.objects.filter(pk__in=ids, ended_at__isnull=True).update(ended_at=now, end_reason=reason)
        if count < len(ids):  # some were ended or deleted meanwhile: keep the ones ended here
            mine = set(Session.objects.filter(pk__in=ids, ended_at=now, end_reason=reason).values_list("pk", flat=True))
            ended = [row for row in ended if row[0] in mine]
            ids = [row[0] for row in ended]
            if not ids:
                return 0
        rows = [(sid, user_id) for sid, user_id, *_device in ended]
        # This process forgets them at once; the others hear of it after the commit.
        get_store().changed(messages.sessions(sid.hex for sid in ids))
        activity.write_sessions_ended(ended, reason, now)
        transaction.on_commit(lambda: _send_session_ended(rows, reason))
    return count


def _send_session_ended(rows: list[tuple[uuid.UUID, Any]], reason: str) -> None:
    metrics.count_event(Activity.SESSION_ENDED, reason, len(rows))
    if not signals.session_ended.has_listeners(Session):
        return
    for session_id, user_id in rows:
        signals.session_ended.send(sender=Session, session_id=session_id, user_id=user_id, reason=reason)


def end_session_for_refresh(raw_refresh: str) -> Session:
    """Logout by refresh token: ends its session only if the token is the current one.
    Returns the session (with its user), as it was before it ended."""
    claims = get_codec().decode(raw_refresh, REFRESH)
    session = _session_for_claims(claims)
    if claims.generation != session.generation:
        raise TokenRevoked()
    end_sessions(Session.objects.filter(pk=session.pk), LOGOUT)
    return session


def end_session_by_id(session_id: "str | uuid.UUID", reason: str = LOGOUT) -> int:
    return end_sessions(Session.objects.filter(pk=uuid.UUID(hex=str(session_id).replace("-", ""))), reason)


def end_user_sessions(user: User, reason: str, keep_session_id: str | None = None) -> int:
    """End the user's open sessions (all but `keep_session_id`) and mark their cutoff;
    returns how many were ended. A user deleted meanwhile, by another request or process,
    ends nothing here: their sessions and cutoff went with them (0)."""
    sessions = Session.objects.filter(user=user)
    if keep_session_id:
        sessions = sessions.exclude(pk=uuid.UUID(hex=keep_session_id))
    try:
        with transaction.atomic():
            # The cutoff first: a deletion of the user takes it before the sessions, so the
            # two never wait for each other in opposite orders.
            cutoffs.mark(user)  # also what authgate did not issue (simplejwt tokens awaiting exchange)
            return end_sessions(sessions, reason)
    except IntegrityError:  # a row naming the user, whose deletion committed first
        if type(user)._default_manager.filter(pk=user.pk).exists():
            raise
        logger.info("User %s was deleted while their sessions were being ended.", user.pk)
        return 0


def end_all_sessions(reason: str = INVALIDATE_ALL) -> int:
    cutoffs.mark_everyone()
    return end_sessions(Session.objects.all(), reason)


def active_sessions(user: User) -> SessionQuerySet:
    """The user's sessions whose refresh token is still usable (what a user calls 'devices')."""
    now = timezone.now()
    idle_cutoff = _now_seconds() - int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds())
    return Session.objects.filter(user=user).active(now).filter(issued_at__gt=idle_cutoff)


PURGE_BATCH = 1000  # sessions deleted per transaction by purge()


def purge(now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete sessions that can never again authenticate anything; returns the count.

    Bounded whatever the table holds: `batch` rows at a time, found by walking the primary
    key (each batch starts after the last one's key, so the whole table is read once), each
    batch deleted in its own short transaction. Memory holds one batch (the store keeps at
    most MAX_MESSAGES pending messages, then one FLUSH); logins and refreshes wait on no
    lock of the purge for longer than one batch. The caches are told once, at the end."""
    now = now or timezone.now()
    grace = api_settings.ACCESS_TOKEN_LIFETIME + api_settings.LEEWAY + timedelta(seconds=60)
    idle_cutoff = int((now - api_settings.REFRESH_TOKEN_LIFETIME - api_settings.LEEWAY).timestamp())
    access_cutoff = int((now - grace).timestamp())
    dead = (
        Session.objects.filter(ended_at__lt=now - grace)
        | Session.objects.filter(expires_at__lt=now - api_settings.LEEWAY)
        | Session.objects.filter(issued_at__lt=min(idle_cutoff, access_cutoff))
    ).order_by("pk")
    # Caches are told too: without rotation, a session past its refresh idle limit may still
    # have a fresh access token, which a deleted row must stop.
    deleted = 0
    store = get_store()
    after = None
    with store.one_fence():  # one publication (a FLUSH past MAX_MESSAGES) and one fence, at the end
        while True:
            page = dead if after is None else dead.filter(pk__gt=after)
            chunk = list(page.values_list("pk", flat=True)[:batch])
            if not chunk:
                break
            with transaction.atomic():
                deleted += Session.objects.filter(pk__in=chunk).delete()[0]
                store.changed(messages.sessions(sid.hex for sid in chunk))
            if len(chunk) < batch:
                break
            after = chunk[-1]
    return deleted
