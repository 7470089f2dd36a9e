"""
Where every way in meets the second factor. Each path that has just checked a first factor
(API login, cookie login, static-token creation with a password, the simplejwt exchange,
the Django admin's login form) calls `require_second_factor()` before it opens anything:
for an account with a factor it starts a pending login and raises 403 `mfa_required`;
for any other account it costs one EXISTS query per factor kind and nothing else.

`check_second_factor()` is the other half, for the paths that take the code in the same
request (the admin form, `tokens/` with `code`, `reauthenticate/`): the proof is checked
by the registry and counted by the account's login throttle, as a password is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidCode, MFARequired
from ..throttling import LoginThrottle
from ..types import User
from . import events, pending, registry

if TYPE_CHECKING:
    from django.http import HttpRequest


def require_second_factor(
    user: User, request: HttpRequest | None, *, cookies: bool = False, device: str = "", first_factor: str = "pwd"
) -> None:
    """Raise MFARequired (with a new `mfa_token`) if `user` has a second factor."""
    if not registry.has_factor_once(user):
        return
    started = pending.start(user, request, cookies=cookies, device=device, first_factor=first_factor)
    events.challenged(user, request)
    raise MFARequired({"mfa_token": started.token, "methods": started.methods, **started.extra})


def check_second_factor(
    user: User, request: HttpRequest | None, data: dict[str, Any], *, status_code: int | None = None
) -> str:
    """Check the proof in `data` for `user`, counted by the account's login throttle
    (`request` is DRF's or Django's); returns the `amr` value, else raises InvalidCode
    (or 429 `throttled` before anything is checked when the account is locked)."""
    throttle = LoginThrottle(request, user.get_username(), user=user)
    throttle.reserve()
    django_request = getattr(request, "_request", request)
    try:
        amr, provider = registry.verify(user, django_request, data)
    except registry.InvalidProof as error:
        throttle.failed()
        events.failed(user, django_request, error.reason)
        raise InvalidCode(error.detail, status_code=status_code) from None
    throttle.succeeded()
    events.used(user, django_request, provider.type)
    return amr
