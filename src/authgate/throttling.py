"""
Failed-login throttling, built on DRF's SimpleRateThrottle.

Unlike DRF's request throttles, only *failures* count: `LOGIN_THROTTLE["USER_IP"]` per
(username, IP) and `LOGIN_THROTTLE["IP"]` per IP (defaults 5 and 50 per 15 minutes). A
successful login resets its (username, IP) count, and another user on the same IP can
still log in until the IP limit. The counts live in Django's cache (`THROTTLE_CACHE`),
which must be shared by every process (database or Redis cache, not local memory). If the
cache is down the throttle lets the attempt through and logs a warning: failing closed
would turn a cache outage into a lockout of every user.
"""
import hashlib
import logging
import re

from django.core.cache import caches
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from .settings import api_settings

logger = logging.getLogger("authgate.throttling")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_ip(request):
    header = api_settings.CLIENT_IP_HEADER
    if header and request.META.get(header):
        return request.META[header].split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or ""


class FailureThrottle(SimpleRateThrottle):
    """Counts failures recorded with `record_failure()`; `allow_request` only reads."""

    scope_setting: str | None = None  # "USER_IP" or "IP"; subclasses also define ident_for()

    def __init__(self):
        self.cache = caches[api_settings.THROTTLE_CACHE]
        self.rate = api_settings.LOGIN_THROTTLE[self.scope_setting]
        super().__init__()

    def parse_rate(self, rate):
        """'5/15m' → (5, 900); DRF's parser only knows one unit of each period."""
        if rate is None:
            return (None, None)
        match = _RATE.match(str(rate))
        if not match:
            raise ValueError(f"Invalid LOGIN_THROTTLE rate: {rate!r}")
        num, multiplier, unit = match.groups()
        return int(num), int(multiplier or 1) * _UNITS[unit]

    def prepare(self, request, username):
        ident = hashlib.sha256(self.ident_for(request, username).encode()).hexdigest()[:32]
        self.key = f"authgate:login-failures:{self.scope_setting}:{ident}"
        return self

    def allow(self):
        if self.rate is None:
            return True
        try:
            self.history = self.cache.get(self.key, [])
        except Exception as exc:  # noqa: BLE001 — any cache outage: fail open, loudly
            logger.warning("Login throttle cache unavailable (%s); not throttling.", exc.__class__.__name__)
            self.history = []
            return True
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) < self.num_requests

    def record_failure(self):
        if self.rate is None:
            return
        try:
            self.throttle_success()  # DRF's "record this request in the history"
        except Exception as exc:  # noqa: BLE001
            logger.warning("Login throttle cache unavailable (%s).", exc.__class__.__name__)

    def reset(self):
        try:
            self.cache.delete(self.key)
        except Exception as exc:  # noqa: BLE001
            logger.warning("Login throttle cache unavailable (%s).", exc.__class__.__name__)


class UsernameIPFailureThrottle(FailureThrottle):
    scope_setting = "USER_IP"

    def ident_for(self, request, username):
        return f"{(username or '').strip().lower()}|{client_ip(request)}"


class IPFailureThrottle(FailureThrottle):
    scope_setting = "IP"

    def ident_for(self, request, username):
        return client_ip(request)


class LoginThrottle:
    """Both failure counts for one login attempt."""

    def __init__(self, request, username):
        self.request, self.username = request, username
        self.per_user_ip = UsernameIPFailureThrottle().prepare(request, username)
        self.per_ip = IPFailureThrottle().prepare(request, username)

    def blocked_for(self):
        """Seconds to wait if the attempt must be refused, else None."""
        waits = [t.wait() or 1 for t in (self.per_user_ip, self.per_ip) if not t.allow()]
        return max(waits) if waits else None

    def raise_if_blocked(self):
        """429 `throttled` with Retry-After when either failure count is exhausted."""
        wait = self.blocked_for()
        if wait is not None:
            from . import activity

            activity.record_throttled(self.request, self.username)
            raise Throttled(wait=wait, detail="Too many failed login attempts. Try again later.")

    def failed(self):
        self.per_user_ip.record_failure()
        self.per_ip.record_failure()

    def succeeded(self):
        self.per_user_ip.reset()


# -- mails asked for ---------------------------------------------------------------------------
class MailRequestCount(FailureThrottle):
    """Mails asked for (reset, verification), under MAIL_THROTTLE[scope_setting]: every
    request counts, for known and unknown addresses alike, so a 429 reveals nothing."""

    def __init__(self):
        self.cache = caches[api_settings.THROTTLE_CACHE]
        self.rate = api_settings.MAIL_THROTTLE[self.scope_setting]
        SimpleRateThrottle.__init__(self)

    def prepare(self, ident):
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        self.key = f"authgate:mail-requests:{self.scope_setting}:{digest}"
        return self


class EmailMailCount(MailRequestCount):
    scope_setting = "EMAIL"


class IPMailCount(MailRequestCount):
    scope_setting = "IP"


class MailThrottle:
    """At most MAIL_THROTTLE["EMAIL"] mails of one kind per address, MAIL_THROTTLE["IP"]
    per client IP; asking beyond either is a 429 `throttled` with Retry-After, the same
    answer whether or not an account has the address."""

    detail = _("Too many emails asked for. Try again later.")

    def __init__(self, request, email, purpose):
        address = (email or "").strip().casefold()
        self.counts = (EmailMailCount().prepare(f"{purpose}|{address}"),
                       IPMailCount().prepare(client_ip(request)))

    def check(self):
        """Count this request; raise 429 when a limit is already reached."""
        waits = [count.wait() or 1 for count in self.counts if not count.allow()]
        if waits:
            raise Throttled(wait=max(waits), detail=str(self.detail))
        for count in self.counts:
            count.record_failure()
