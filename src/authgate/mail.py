"""
authgate's mails (password reset, email verification, the notice of an email change), through
Django's email framework.

Each mail is three templates under `authgate/email/`: `<name>_subject.txt`, `<name>.txt`
and `<name>.html` — override them in a project's own templates directory; they are
translatable (`{% translate %}`). They go out through the project's default mailer: on
Django 6.1 and later `MAILERS["default"]` (`django.core.mail.mailers.default`), before it
`EMAIL_BACKEND` and `EMAIL_HOST`, ... (`get_connection()`), so any SMTP server or provider
backend works; authgate itself reads none of the `EMAIL_*` settings.

Mails are handed to a background thread (SEND_MAIL_IN_BACKGROUND, on by default) that
starts once the response is out: no request waits on an SMTP server, and an answer takes
the same time whether or not a mail goes out. A failed delivery is logged, never shown to the person who asked: the answer
must not depend on it.
"""

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit

import django.core.mail
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from . import links, recovery
from .conf import api_settings
from .types import User

logger = logging.getLogger("authgate.mail")

PASSWORD_RESET = "password_reset"
VERIFY_EMAIL = "verify_email"
EMAIL_CHANGED = "email_changed"


def compose(name: str, to: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    """An EmailMultiAlternatives (text, with the HTML part) from the `name` templates."""
    # One line: a newline would break the header.
    subject = " ".join(render_to_string(f"authgate/email/{name}_subject.txt", context).split())
    text = render_to_string(f"authgate/email/{name}.txt", context)
    html = render_to_string(f"authgate/email/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(html, "text/html")
    return message


def default_mailer() -> BaseEmailBackend:
    """A connection of the project's default mailer: `mailers.default` where Django has
    mailers (6.1+: `get_connection()` is deprecated there), else `get_connection()`."""
    mailers = getattr(django.core.mail, "mailers", None)
    if mailers is not None:
        return cast(BaseEmailBackend, mailers.default)
    return django.core.mail.get_connection()


def site_name(request: HttpRequest | None) -> str:
    """The host the mails name: that of the origin their links go to (authgate.links)."""
    origin = links.origin_for(request)
    return urlsplit(origin).netloc if origin else ""


def _context(request: HttpRequest | None, user: User, link: str) -> dict[str, Any]:
    return {
        "user": user,
        "username": user.get_username(),
        "email": recovery.email_of(user),
        "link": link,
        "site": site_name(request),
        "valid_hours": max(1, round(settings.PASSWORD_RESET_TIMEOUT / 3600)),
    }


def password_reset_mail(request: HttpRequest | None, user: User) -> EmailMultiAlternatives:
    link = recovery.reset_link(request, user)
    return compose(PASSWORD_RESET, recovery.email_of(user), _context(request, user, link))


def verification_mail(request: HttpRequest | None, user: User) -> EmailMultiAlternatives:
    link = recovery.verification_link(request, user)
    return compose(VERIFY_EMAIL, recovery.email_of(user), _context(request, user, link))


def pending_email_mail(request: HttpRequest | None, user: User) -> EmailMultiAlternatives:
    """The verification mail to a pending address (`PATCH me/`): its link makes it the
    account's email."""
    link = recovery.pending_email_link(request, user)
    address = recovery.pending_email_of(user)
    return compose(VERIFY_EMAIL, address, {**_context(request, user, link), "email": address})


FACTOR_CHANGED = "factor_changed"
FACTOR_NAMES = {"totp": _("an authenticator app"), "webauthn": _("a security key or passkey")}


def factor_changed_mail(request: HttpRequest | None, user: User, factor: str, added: bool) -> EmailMultiAlternatives:
    """The notice that a second factor was added or removed (by the user or by support)."""
    from django.utils import timezone

    from .net import client_ip

    context = {
        **_context(request, user, link=""),
        "factor": FACTOR_NAMES.get(factor, _("a second factor")),
        "added": added,
        "all_factors": factor == "all",
        "when": timezone.now().strftime("%Y-%m-%d %H:%M UTC"),
        "ip": client_ip(request) if request is not None else "",
        "device": request.META.get("HTTP_USER_AGENT", "")[:200] if request is not None else "",
    }
    return compose(FACTOR_CHANGED, recovery.email_of(user), context)


class Outbox:
    """Sends lists of messages in a background thread (unless SEND_MAIL_IN_BACKGROUND is
    off). Asked while a request is being answered, the thread starts once the response has
    gone out (Django's `request_finished`): its work then overlaps nothing the client
    waits for, so a request that sends a mail and one that does not take the same time.
    `flush()` waits for the pending ones (tests, and a graceful shutdown)."""

    def __init__(self) -> None:
        self._pending: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._local = threading.local()  # the batches of the request this thread answers

    def send(self, messages: Iterable[EmailMessage], decoys: Iterable[EmailMessage] = ()) -> None:
        """Send `messages`. `decoys` are composed but never sent: the thread serialises them
        as the mail backend would, so that a request with nothing to send (an unknown
        address) costs its process what one with a mail costs."""
        batch = (list(messages), list(decoys))
        if not api_settings.SEND_MAIL_IN_BACKGROUND:
            self._deliver(*batch)
        elif getattr(self._local, "batches", None) is not None:
            self._local.batches.append(batch)
        else:
            self._start(batch)

    def request_started(self, **kwargs: Any) -> None:
        self._local.batches = []

    def request_finished(self, **kwargs: Any) -> None:
        batches, self._local.batches = getattr(self._local, "batches", None) or [], None
        for batch in batches:
            self._start(batch)

    def _start(self, batch: tuple[list[EmailMessage], list[EmailMessage]]) -> None:
        thread = threading.Thread(target=self._run, args=batch, name="authgate-mail", daemon=True)
        with self._lock:
            self._pending.add(thread)
        thread.start()

    def _run(self, messages: list[EmailMessage], decoys: list[EmailMessage]) -> None:
        try:
            self._deliver(messages, decoys)
        finally:
            with self._lock:
                self._pending.discard(threading.current_thread())

    attempts = 3  # a mail server that hiccups (busy, restarting) gets two more chances
    retry_delay = 2  # seconds, doubled after each failure

    # A real send first waits on the mail server (connect, greeting), and serialises its
    # message only then; a decoy waits as long before doing the same, so that neither
    # competes with the request thread while the answer is still on its way out.
    decoy_delay = 0.02  # seconds

    def _deliver(self, messages: list[EmailMessage], decoys: list[EmailMessage]) -> None:
        if decoys:
            time.sleep(self.decoy_delay)
        for decoy in decoys:
            decoy.message().as_bytes()  # the same work as a real send; Django 6 dropped linesep
        delay = self.retry_delay
        for attempt in range(1, self.attempts + 1):
            if not messages:
                return
            try:
                default_mailer().send_messages(messages)
                return
            except Exception as exc:  # noqa: BLE001 — an SMTP outage must not become an answer
                if attempt == self.attempts:
                    logger.exception("Could not send %d mail(s); giving up.", len(messages))
                    return
                logger.warning(
                    "Could not send %d mail(s) (%s: %s); trying again in %s s.",
                    len(messages),
                    exc.__class__.__name__,
                    exc,
                    delay,
                )
            time.sleep(delay)  # in the sender thread, never in a request
            delay *= 2

    def flush(self, timeout: float = 30) -> None:
        with self._lock:
            pending = list(self._pending)
        for thread in pending:
            thread.join(timeout)


outbox = Outbox()  # its request_started/request_finished receivers: `authgate.receivers`
