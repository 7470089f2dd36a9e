"""
Security notifications: the mails that tell a user something happened to their account —
a sign-in from a new device, a password or email change, a session ended because its
refresh token was used twice ("someone may have your token"), a second factor added or
removed.

One call for every kind, usable from any module:

    from authgate import notifications
    notifications.notify(notifications.FACTOR_ADDED, user, request, factor="an authenticator app")

Invariants:
- every mail names the device (its label or user agent), the IP and the time of the event,
  and links to the account page's list of sessions (`SESSIONS_URL`, made absolute on an
  allowed origin by `authgate.links`);
- mails go through `authgate.mail.outbox`: asked during a request, they are sent after the
  response has gone out, so no login waits on them; a failed delivery is logged only;
- only the new-device mail can be turned off (`NotificationPreference.new_device`, the
  `notifications/` endpoint); the others always go;
- a device is recognised by a long-lived signed cookie (`DEVICE_COOKIE_NAME`) set on the
  answer that opened its session, else by its user agent and network (/24, IPv6 /48). The
  first device an account is seen on raises no mail (nothing to compare it with).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import KnownDevice, NotificationPreference
from .types import User

if TYPE_CHECKING:
    from django.core.mail import EmailMultiAlternatives
    from django.http import HttpRequest, HttpResponse

    from .models import Session

logger = logging.getLogger("authgate.notifications")

NEW_DEVICE = "new_device"
PASSWORD_CHANGED = "password_changed"
EMAIL_CHANGED = "email_changed"
REFRESH_REUSE = "refresh_reuse"
FACTOR_ADDED = "factor_added"
FACTOR_REMOVED = "factor_removed"
KINDS = (NEW_DEVICE, PASSWORD_CHANGED, EMAIL_CHANGED, REFRESH_REUSE, FACTOR_ADDED, FACTOR_REMOVED)
OPTIONAL = (NEW_DEVICE,)  # what a user may turn off

SESSIONS_URL = "/#sessions-title"  # the account page's list of sessions
DEVICE_COOKIE_NAME = "authgate_device"
DEVICE_COOKIE_AGE = timedelta(days=400)  # the most browsers keep a cookie
_COOKIE_SALT = "authgate.notifications.device"
_SEEN_EVERY = timedelta(days=1)
MAX_DEVICES = 50  # devices remembered per account (the least recently seen are forgotten)  # last_seen_at is written at most this often
_REQUEST_ATTRIBUTE = "_authgate_device_cookie"


# -- preferences ---------------------------------------------------------------------------------
def wants(user: User, kind: str) -> bool:
    """Whether `user` gets mails of `kind` (only the optional kinds can be off)."""
    if kind not in OPTIONAL:
        return True
    preference = NotificationPreference.objects.filter(user_id=user.pk).first()
    return preference is None or bool(getattr(preference, kind))


def preferences(user: User) -> dict[str, bool]:
    return {kind: wants(user, kind) for kind in OPTIONAL}


def set_preferences(user: User, **values: bool) -> dict[str, bool]:
    known = {kind: bool(value) for kind, value in values.items() if kind in OPTIONAL}
    if known:
        NotificationPreference.objects.update_or_create(user_id=user.pk, defaults=known)
    return preferences(user)


# -- sending -------------------------------------------------------------------------------------
def _client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    from .net import client_ip

    return client_ip(request) or ""


def compose(
    kind: str,
    user: User,
    request: HttpRequest | None = None,
    *,
    to: str | None = None,
    device: str = "",
    ip: str | None = None,
    user_agent: str | None = None,
    when: datetime | None = None,
    **details: Any,
) -> EmailMultiAlternatives | None:
    """The notice of `kind` for `user` (to their address, or `to`), as an unsent message;
    None when there is no address or the user turned this kind off."""
    from . import mail, recovery

    if kind not in KINDS:
        raise ValueError(f"Unknown notification {kind!r}; one of {', '.join(KINDS)}.")
    address = to if to is not None else recovery.email_of(user)
    if not address or not wants(user, kind):
        return None
    if user_agent is None:
        user_agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    context = {
        **details,
        "kind": kind,
        "user": user,
        "username": user.get_username(),
        "email": recovery.email_of(user),
        "site": mail.site_name(request),
        "device": device or user_agent or _("an unknown device"),
        "ip": (ip if ip is not None else _client_ip(request)) or _("an unknown address"),
        "when": timezone.localtime(when or timezone.now()).strftime("%Y-%m-%d %H:%M %Z"),
        "sessions_link": sessions_link(request),
        "can_turn_off": kind in OPTIONAL,
    }
    return mail.compose("security_notice", address, context)


def notify(kind: str, user: User, request: HttpRequest | None = None, **options: Any) -> bool:
    """Mail `user` a notice of `kind`, after the response (see `compose` for the options:
    `to`, `device`, `ip`, `user_agent`, `when`, and details for the templates such as
    `factor`). The device, IP and user agent default to the request's. Returns whether a
    mail was handed on."""
    from . import mail

    message = compose(kind, user, request, **options)
    if message is None:
        return False
    mail.outbox.send([message])
    return True


def sessions_link(request: HttpRequest | None) -> str:
    from . import links

    return links.absolute(request, SESSIONS_URL)


# -- devices -------------------------------------------------------------------------------------
def _network(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _hash(value: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}|{value}".encode()).hexdigest()


def device_cookie(request: HttpRequest | None) -> str | None:
    """The device id of the request's valid device cookie, or None."""
    if request is None:
        return None
    raw = request.COOKIES.get(DEVICE_COOKIE_NAME)
    if not raw:
        return None
    try:
        value: str = signing.loads(raw, salt=_COOKIE_SALT)
    except signing.BadSignature:
        return None
    return value


def device_key(request: HttpRequest | None, user_agent: str = "", ip: str = "") -> str:
    """What identifies the device: its cookie, else its user agent and network."""
    cookie = device_cookie(request)
    if cookie:
        return _hash(f"cookie|{cookie}")
    return _hash(f"agent|{user_agent}|{_network(ip)}")


def recognise(user: User, request: HttpRequest | None, *, user_agent: str = "", ip: str = "") -> bool:
    """Remember the device of a sign-in; True when the account has signed in before but
    never on this device. A browser without a device cookie is given one (on the answer,
    `set_device_cookie`), by which it is known next time."""
    cookie = device_cookie(request)
    agent_key = _hash(f"agent|{user_agent}|{_network(ip)}")
    keys = [agent_key] + ([_hash(f"cookie|{cookie}")] if cookie else [])
    if request is not None and not cookie:
        # One cookie per answer, when two ways of signing in both look at one request.
        issued = getattr(request, _REQUEST_ATTRIBUTE, None) or secrets.token_urlsafe(24)
        setattr(request, _REQUEST_ATTRIBUTE, issued)
        keys.append(_hash(f"cookie|{issued}"))
    known = KnownDevice.objects.filter(user_id=user.pk)
    present = dict(known.filter(key__in=keys).values_list("key", "last_seen_at"))
    # Known by its cookie, or (no cookie, or one this account never saw) by agent and network.
    new = not present
    first = new and not known.exists()
    now = timezone.now()
    missing = [
        KnownDevice(user_id=user.pk, key=key, created_at=now, last_seen_at=now) for key in keys if key not in present
    ]
    seen = bool(present) and now - max(present.values()) > _SEEN_EVERY
    if not missing and not seen:
        return new and not first
    # The writes in a savepoint when the session is opened inside a transaction (a
    # login's): a failed write is rolled back alone, and the login goes on.
    with transaction.atomic(using=router.db_for_write(KnownDevice)):
        if missing:
            KnownDevice.objects.bulk_create(missing, ignore_conflicts=True)
            stale = list(known.order_by("-last_seen_at", "-id").values_list("pk", flat=True)[MAX_DEVICES:])
            if stale:  # clients that never send the cookie back get a new one each time: bounded
                KnownDevice.objects.filter(pk__in=stale).delete()
        if seen:
            known.filter(key__in=list(present)).update(last_seen_at=now)
    return new and not first


def set_device_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Put the device cookie chosen while answering `request` on its response."""
    value = getattr(request, _REQUEST_ATTRIBUTE, None)
    if not value:
        return
    from .conf import api_settings

    secure = api_settings.COOKIE_SECURE if api_settings.COOKIE_SECURE is not None else not settings.DEBUG
    response.set_cookie(
        DEVICE_COOKIE_NAME,
        signing.dumps(value, salt=_COOKIE_SALT),
        max_age=int(DEVICE_COOKIE_AGE.total_seconds()),
        httponly=True,
        secure=secure,
        samesite="Lax",
        path="/",
    )


# -- receivers (connected in apps.py) -----------------------------------------------------------
def on_session_opened(
    sender: type, session: Session, user: User, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Every way in opens a session here: a sign-in from a device not seen before is told."""
    _tell_a_new_device(user, request, session.user_agent, str(session.ip or ""), session.device)


def on_django_login(sender: type, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    """Django's `user_logged_in` for a login that opened a Django login session (the admin's
    form, django-allauth's views): a device not seen before is told, as for a session."""
    from django.contrib.auth import SESSION_KEY

    session = getattr(request, "session", None)
    if request is None or user is None or session is None or SESSION_KEY not in session:
        return  # authgate's own logins open no Django session: `on_session_opened` hears them
    from .net import client_ip

    _tell_a_new_device(user, request, request.META.get("HTTP_USER_AGENT", ""), client_ip(request) or "")


def _tell_a_new_device(user: User, request: HttpRequest | None, user_agent: str, ip: str, device: str = "") -> None:
    """Remember the device of a sign-in, and mail the user if the account never saw it."""
    try:
        new = recognise(user, request, user_agent=user_agent, ip=ip)
    except Exception:  # noqa: BLE001 — a notice must never break a login
        logger.exception("Could not check the device of a sign-in.")
        return
    if new:
        notify(NEW_DEVICE, user, request, device=device or user_agent, ip=ip)


def on_refresh_reuse(sender: type, session: Session, user_id: object = None, **kwargs: Any) -> None:
    """A spent refresh token came back: its session was ended; tell the owner."""
    user = session.user
    notify(
        REFRESH_REUSE,
        user,
        None,
        device=session.device or session.user_agent,
        ip=str(session.ip or ""),
        user_agent=session.user_agent,
    )


_PREVIOUS_EMAIL = "_authgate_previous_email"


def note_previous_email(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """`pre_save` of the user model: the address an account had, when this save changes it
    (one read, only for a save that may write the address: not a login's `last_login`)."""
    from django.core.exceptions import FieldDoesNotExist

    from .recovery import EMAIL_CHANGE_TOLD

    field = sender.get_email_field_name()
    if raw or instance._state.adding or getattr(instance, EMAIL_CHANGE_TOLD, False):
        return
    if update_fields is not None and field not in update_fields:
        return
    try:
        sender._meta.get_field(field)
    except FieldDoesNotExist:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list(field, flat=True).first()
    new = getattr(instance, field, "") or ""
    if stored and stored.casefold() != new.casefold():
        setattr(instance, _PREVIOUS_EMAIL, stored)


def on_email_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """`post_save`: an address changed by any other path (the Django admin, code) is told
    to the previous address, as the account's own change is."""
    from .recovery import EMAIL_CHANGE_TOLD

    instance.__dict__.pop(EMAIL_CHANGE_TOLD, None)  # for this save only
    old = instance.__dict__.pop(_PREVIOUS_EMAIL, None)
    if old is None or raw or created:
        return
    from .net import remembered_request

    notify(EMAIL_CHANGED, instance, remembered_request(instance), to=old, old_email=old)


def on_user_saved(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A saved password change (`set_password()` then `save()`, from any path). The request,
    when a view made the change, is the one it noted on the user (`net.remember_request`)."""
    if raw or created or getattr(instance, "_password", None) is None:
        return
    from .net import remembered_request

    notify(PASSWORD_CHANGED, instance, remembered_request(instance))
