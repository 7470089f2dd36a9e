"""
The password gate: the one place where a password is judged.

Every password check goes through `check_password()`: the API login, `tokens/` with a
username and password, any `django.contrib.auth.authenticate()` that reaches authgate's
`UsernameOrEmailBackend` (the Django admin's login form included), and re-authentication
(the current password that an email change, an account deletion or a password change
asks for). So every one of them:

1. first reserves its attempt in the failed-login counts of `authgate.throttling`
   (per account+IP and per IP, atomic across processes): when either is exhausted it
   raises `PasswordThrottled` before any password is hashed;
2. then judges the password — through `authenticate()`, so every configured backend
   judges, or, when it is entered from authgate's own backend, through that backend;
3. and keeps the failure counted (`WrongPassword`), or resets the account's count (for
   an account with a second factor, only once that factor is proven: `authgate.mfa.gate`).
   A login that opens a session asks for the reset to wait (`settle_later`): `settle()`
   then makes it inside the transaction that writes the session, its activity row and
   `last_login`, so a successful login commits once.

Invariants: a user leaves this module only when its password was right and the account
may log in (active); a refused attempt leaves as a typed error (`GateError`); every
refused attempt sends Django's `user_login_failed` exactly once (throttled ones too, as
`authenticate()` does when a backend refuses); a throttled attempt is marked on its
request (`throttled_on()`), so the activity trail writes its summary row instead of a row
per attempt. `password_login()` adds the rules of opening a credential with a password
(a verified email address), so they run only after the gate; the second factor is asked
next, by `authgate.mfa.gate.require_second_factor()`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest

from django.contrib.auth import authenticate, user_login_failed
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import Throttled

from .. import recovery
from .. import factors
from ..throttling import LoginThrottle
from ..types import User

# Set while the gate judges a password: authgate's backend then only judges (the gate
# already holds this attempt's place in the counts). Holds the throttle, whose resolution
# of the login name the backend reuses (one lookup of the account per check).
_judging: ContextVar[LoginThrottle | None] = ContextVar("authgate_gate_judging", default=None)
_THROTTLED_ATTRIBUTE = "_authgate_password_throttled"
_UNSETTLED_ATTRIBUTE = "_authgate_password_unsettled"
UNRESOLVED = object()  # `resolved_account()`: the gate has not looked this name up


class GateError(Exception):
    """A password check that let nobody through."""


class WrongPassword(GateError):
    """Unknown name, wrong password or inactive account (one answer for the three)."""


class PasswordThrottled(GateError, PermissionDenied):
    """Too many failures for this account from this address, or from this address: the
    password was not judged. A `PermissionDenied`, so `authenticate()` stops at it."""

    message = _("Too many failed login attempts. Try again later.")

    def __init__(self, retry_after: int) -> None:
        super().__init__(str(self.message))
        self.retry_after = retry_after

    def as_api_error(self) -> Throttled:
        """The API's answer: 429 `throttled` with Retry-After."""
        return Throttled(wait=self.retry_after, detail=str(self.message))


def is_judging() -> bool:
    """True inside the gate's own `authenticate()` call."""
    return _judging.get() is not None


def resolved_account(username: str) -> User | None | object:
    """The account the gate found for `username` in the check being judged (None: no
    account has that name), else UNRESOLVED: the backend then looks the name up itself.
    The account is read fresh by that same check, before its password is judged."""
    throttle = _judging.get()
    if throttle is None or throttle.given_user or throttle.username != username:
        return UNRESOLVED
    return throttle.user


@contextmanager
def _judging_now(throttle: LoginThrottle) -> Iterator[None]:
    token = _judging.set(throttle)
    try:
        yield
    finally:
        _judging.reset(token)


def _http_request(request: HttpRequest | None) -> HttpRequest | None:
    """Django's HttpRequest (a DRF Request wraps one)."""
    http_request: HttpRequest | None = getattr(request, "_request", request)
    return http_request


def throttled_on(request: HttpRequest | None) -> PasswordThrottled | None:
    """The refusal of a throttled password check made during `request`, if any."""
    return getattr(_http_request(request), _THROTTLED_ATTRIBUTE, None) if request is not None else None


def check_password(
    request: HttpRequest | None,
    username: str,
    password: str,
    *,
    user: User | None = None,
    judge: Callable[[], User | None] | None = None,
    settle_later: bool = False,
) -> User:
    """The user whose login name is `username` and password `password`, else a GateError.

    `user`: re-authentication — the password must be this account's. `judge`: how the
    password is judged (authgate's backend passes its own check; by default Django's
    `authenticate()`, so every configured backend judges, and it sends `user_login_failed`).
    `settle_later`: on success, leave the reset of the counts to `settle(request)`, which
    the caller runs in the transaction that opens the session (and in a `finally`).
    """
    http_request = _http_request(request)
    throttle = LoginThrottle(request, username, user=user)
    retry_after = throttle.try_reserve()
    if retry_after is not None:
        refused = PasswordThrottled(retry_after)
        if http_request is not None:
            setattr(http_request, _THROTTLED_ATTRIBUTE, refused)
        if judge is None:  # else authenticate() is the caller: it sends the signal
            _send_login_failed(http_request, username)
        raise refused
    try:
        with _judging_now(throttle):
            if judge is not None:
                found = judge()
            else:
                found = authenticate(http_request, username=username, password=password)
    except BaseException:
        throttle.cancel()
        raise
    if found is None or (user is not None and found.pk != user.pk):
        throttle.failed()
        raise WrongPassword()
    if factors.has_factor(found, remember=True):
        # Not a success yet: the account's count (wrong codes included) is reset only once
        # the second factor is proven, else a known password would wipe the code guesses.
        throttle.cancel()
    elif settle_later and http_request is not None:
        setattr(http_request, _UNSETTLED_ATTRIBUTE, throttle)
    else:
        throttle.succeeded()
    return found


def settle(request: HttpRequest | None) -> None:
    """Make the reset that a `settle_later` check of `request` left waiting (the account's
    count forgotten, the address's slot given back); nothing when none waits. Run inside
    the login's transaction, the reset commits with the session; run again in a `finally`,
    it makes the reset of a login that stopped before its transaction (at most once)."""
    http_request = _http_request(request)
    throttle = http_request.__dict__.pop(_UNSETTLED_ATTRIBUTE, None) if http_request is not None else None
    if throttle is not None:
        throttle.succeeded()


def _send_login_failed(request: HttpRequest | None, username: str) -> None:
    # As authenticate() sends it: the password already replaced by stars.
    user_login_failed.send(
        sender=__name__, credentials={"username": username, "password": "********************"}, request=request
    )


def password_login(request: HttpRequest | None, username: str, password: str, *, settle_later: bool = False) -> User:
    """A password login that opens a credential (a session, a static token): the gate,
    then the rules that apply once the password was right (a verified email address when
    REQUIRE_EMAIL_VERIFICATION is on). `settle_later`: as for `check_password()`."""
    user = check_password(request, username, password, settle_later=settle_later)
    try:
        recovery.require_verified_email(user)
    except BaseException:
        settle(request)  # refused after a right password: the counts reset, as before
        raise
    return user
