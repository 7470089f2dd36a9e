"""
Failed-login throttling: `LOGIN_THROTTLE["USER_IP"]` failures per (account, IP) and
`LOGIN_THROTTLE["IP"]` per IP (defaults 5 and 50 per 15 minutes).

Each password check first *reserves* its attempt in both counts (`authgate.counters`: an
atomic conditional increment in the database), so concurrent guesses are counted exactly,
across every process: twenty wrong passwords sent at once check at most the limit, and
the rest are refused with 429 and Retry-After before any password is hashed. A failure
keeps its reservations. A success resets the (account, IP) count and gives back its slot
of the IP count, so another user on the same IP can still log in until the IP limit.

The (account, IP) count follows the account that the name resolves to — username, any
case or width, or email (`authgate.identity`) — or the canonical name when none does, so
`alice`, `ALICE` and alice's email share one count, and a success only resets its own.

`MailThrottle` limits the mails asked for (reset, verification) on the same counters.
"""

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import Throttled

from . import counters, identity
from .net import client_ip
from .conf import api_settings
from .types import User

USER_IP_SCOPE = "login-user-ip"
IP_SCOPE = "login-ip"
MAIL_EMAIL_SCOPE = "mail-email"
MAIL_IP_SCOPE = "mail-ip"


def subject(username: str | None, user: User | None = None) -> tuple[str, str]:
    """(key part, label) of the account a login name resolves to, or of the name itself."""
    user = user if user is not None else identity.resolve(username)
    if user is not None:
        return f"user:{user.pk}", user.get_username()
    name = f"name:{identity.canonical(username or '')}"
    return name, name


def _account(username: str | None, user: User | None = None) -> User | None:
    return user if user is not None else identity.resolve(username)


class LoginThrottle:
    """Both failure counts of one password check (`authgate.account.gate` is its one
    user): `reserve()` before it, then exactly one of `failed()`, `succeeded()` or
    `cancel()` (the check did not happen after all)."""

    def __init__(self, request: HttpRequest | None, username: str | None, user: User | None = None) -> None:
        self.request, self.username = request, username
        self.ip = client_ip(request)
        self.given_user = user is not None  # else `user` is the account `username` resolves to, read now
        self.user = _account(username, user)
        self.who, self.label = subject(username, self.user)
        who = self.who
        self.keys = {
            "USER_IP": f"{USER_IP_SCOPE}:{who}|{self.ip}",
            "IP": f"{IP_SCOPE}:{self.ip}",
        }
        self.hits: dict[str, counters.Hit] = {}

    message = _("Too many failed login attempts. Try again later.")

    def reserve(self) -> None:
        """Take this attempt's slot in both counts, or raise 429 `throttled` with
        Retry-After (taking nothing) when either is exhausted."""
        retry_after = self.try_reserve()
        if retry_after is not None:
            raise Throttled(wait=retry_after, detail=str(self.message))

    def try_reserve(self) -> int | None:
        """Take this attempt's slot in both counts. When either is exhausted, take nothing
        and return the seconds until the attempt may be made again (else None).

        The per-address count comes first, and both are first *read*: an attempt refused
        because a count is already spent writes nothing (no counter row for a new name
        from a blocked address, no slot taken and given back). Only attempts that may go
        on take their slots, atomically; one that loses a race for the last slot gives
        back what it took. Both slots are taken by one statement (`counters.hit_many`)."""
        scopes: list[tuple[str, int, int]] = []
        for scope in ("IP", "USER_IP"):
            limit, window = counters.parse_rate(api_settings.LOGIN_THROTTLE[scope])
            if limit is None or window is None or (scope == "IP" and not self.ip):
                continue  # no address (authenticate() without a request): the account's count only
            scopes.append((scope, limit, window))
        spent = counters.spent([self.keys[scope] for scope, _limit, _window in scopes])
        for scope, _limit, _window in scopes:
            if self.keys[scope] in spent:
                return self._refuse(spent[self.keys[scope]])
        hits = counters.hit_many(
            [
                (self.keys[scope], limit, window, self.label if scope == "USER_IP" else "")
                for scope, limit, window in scopes
            ],
            ip=self.ip,
        )
        self.hits = {
            scope: hits[self.keys[scope]] for scope, _limit, _window in scopes if hits[self.keys[scope]].allowed
        }
        refused = [hits[self.keys[scope]] for scope, _limit, _window in scopes if not hits[self.keys[scope]].allowed]
        if refused:
            self.cancel()
            return self._refuse(refused[0].retry_after)
        return None

    def _refuse(self, retry_after: int) -> int:
        from . import activity

        activity.record_throttled(self.request, self.username, user=self.user, subject=self.who)
        return retry_after

    def failed(self) -> None:
        """A wrong password: the reservations stay counted."""
        self.hits = {}

    def succeeded(self) -> None:
        """The right password: reset the (account, IP) count; the IP count counts failures only.

        The two rows are written in their stored keys' order, the order in which
        `counters.hit_many` locks them: a login's transaction holds these locks until it
        commits, and two logins that took them in opposite orders would deadlock."""
        ip_hit = self.hits.get("IP")
        for _stored, scope in sorted((counters.storage_key(self.keys[s]), s) for s in ("USER_IP", "IP")):
            if scope == "USER_IP":
                counters.reset(self.keys[scope])
            else:
                counters.release(self.keys[scope], ip_hit)
        self.hits = {}

    def cancel(self) -> None:
        """No password was judged after all: give back the slots taken (in stored-key order,
        as every writer of these rows takes them)."""
        for _stored, scope in sorted((counters.storage_key(self.keys[s]), s) for s in self.hits):
            counters.release(self.keys[scope], self.hits[scope])
        self.hits = {}


# -- mails asked for ---------------------------------------------------------------------------
class MailThrottle:
    """At most MAIL_THROTTLE["EMAIL"] mails of one kind per address, MAIL_THROTTLE["IP"]
    per client IP; asking beyond either is a 429 `throttled` with Retry-After, the same
    answer whether or not an account has the address. Every request counts (atomically,
    `authgate.counters`), for known and unknown addresses alike."""

    detail = _("Too many emails asked for. Try again later.")

    def __init__(self, request: HttpRequest | None, email: str | None, purpose: str) -> None:
        address = identity.canonical((email or "").strip())
        self.ip = client_ip(request)
        self.counts = (
            ("EMAIL", f"{MAIL_EMAIL_SCOPE}:{purpose}|{address}", address),
            ("IP", f"{MAIL_IP_SCOPE}:{self.ip}", ""),
        )

    def check(self) -> None:
        """Count this request; raise 429 (counting nothing) when a limit is already reached."""
        taken: list[tuple[str, counters.Hit]] = []
        for scope, key, label in self.counts:
            limit, window = counters.parse_rate(api_settings.MAIL_THROTTLE[scope])
            if limit is None or window is None:
                continue
            hit = counters.hit(key, limit, window, label=label, ip=self.ip)
            if not hit.allowed:
                for earlier_key, earlier in taken:
                    counters.release(earlier_key, earlier)
                raise Throttled(wait=hit.retry_after, detail=str(self.detail))
            taken.append((key, hit))
