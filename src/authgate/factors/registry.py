"""
The factor-provider registry: each kind of second factor (TOTP, recovery codes, WebAuthn
security keys and passkeys, or a project's own) is one `FactorProvider`, and every place
that asks for or checks a second factor — the 403 `mfa_required` answer of every way in,
`mfa/verify/`, `reauthenticate/`, `GET mfa/`, staff removal — goes through the registry,
never through a provider directly. A new factor is therefore one class and one
`register()` call; no view changes.

Invariants:
- `verify()` is asked of each registered provider in registration order; the first that
  recognises the proof (returns an `amr` value or raises `InvalidProof`) decides. A proof
  no provider recognises is an invalid code (never a 500).
- A provider that answers must have consumed the proof atomically (a TOTP step, a
  recovery code, a WebAuthn challenge and signature counter): the same proof sent twice,
  even at the same moment, succeeds at most once.
- Providers record nothing in the activity trail or the metrics themselves: the callers
  (`authgate.factors.events`) do, once per outcome.

Registering one (in your AppConfig.ready(), or through the `MFA_PROVIDERS` setting, a list
of import strings of provider classes, which replaces the default list):

    from authgate.mfa.providers import FactorProvider, InvalidProof, register

    class SMSProvider(FactorProvider):
        type = "sms"
        ...

    register(SMSProvider())
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from ..amr import AMR_VALUES as AMR_VALUES  # re-exported: its old home
from ..amr import FACTOR_AMR as FACTOR_AMR  # re-exported: its old home
from ..conf import api_settings
from ..types import User

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.functional import _StrPromise as StrPromise


class InvalidProof(Exception):
    """A proof meant for this provider that does not verify (a wrong, reused or expired
    code; an assertion with a bad signature, origin, RP ID or counter). Answered as 401
    `invalid_code` (400 at set-up confirmation); counted by the account's login throttle.
    `reason` is a short machine word for logs and metrics (never shown as the detail)."""

    def __init__(self, reason: str = "invalid", detail: str | StrPromise | None = None) -> None:
        super().__init__(detail or _("The code is invalid or has expired."))
        self.reason = reason
        self.detail = detail or _("The code is invalid or has expired.")


class FactorProvider(ABC):
    """One kind of second factor. Subclass it, set `type`, implement the three abstract
    methods, and `register()` an instance. Instances are shared by every thread: keep no
    per-request state on `self`.

    `user` is always an active user whose password (or passkey, for passwordless login)
    was already checked, or the authenticated user of a request. `request` is Django's
    HttpRequest (not DRF's), or None outside a request (management commands).
    """

    #: Stable machine word, shown as `type` in `GET mfa/` entries and in `methods` of the
    #: 403 `mfa_required` answer: "totp", "recovery_codes", "webauthn", ...
    type: str = ""

    #: False for fallbacks (recovery codes): they do not by themselves put an account
    #: under a second factor, and are not listed in `methods`.
    is_factor: bool = True

    @abstractmethod
    def methods(self, user: User) -> list[dict[str, Any]]:
        """The user's *active* (confirmed) devices of this kind, each
        `{"type": self.type, "id": <str or int>, "name": str, "created_at": datetime,
        "last_used_at": datetime | None}`. Empty when the user has none. One query at most:
        it is called on `GET mfa/` and on every login of an account with a factor."""

    def is_enabled(self, user: User) -> bool:
        """True if this factor is on for `user` (the account then needs a second step at
        every way in). Default: `bool(self.methods(user))`; override with a cheaper EXISTS
        query — it runs on every password login, also for accounts without any factor."""
        return self.is_factor and bool(self.methods(user))

    def challenge(self, user: User, request: HttpRequest | None) -> dict[str, Any]:
        """Extra top-level fields for the 403 `mfa_required` answer (and for a
        `reauthentication_required` one), e.g. `{"webauthn": {"publicKey": {...}}}`; `{}` when
        none are needed (TOTP). Called only when `is_enabled(user)`. May store a
        single-use challenge; it must expire by itself."""
        return {}

    @abstractmethod
    def verify(self, user: User, request: HttpRequest | None, data: dict[str, Any]) -> str | None:
        """Check the proof in `data` (the request body: `{"code": ...}` or
        `{"credential": ...}`, plus `mfa_token` at `mfa/verify/`).

        Return None when `data` is not for this provider (the next one is asked); return
        the RFC 8176 `amr` value of the factor on success ("otp", "hwk", "swk"), having
        atomically consumed the proof and updated the device's `last_used_at`; raise
        `InvalidProof` when `data` is for this provider but does not verify. Never raise
        anything else for bad input."""

    def remove_all(self, user: User) -> int:
        """Delete every device of this kind of `user` (staff removal, account reset);
        returns how many. Default: nothing to remove."""
        return 0


# -- the registry --------------------------------------------------------------------------
DEFAULT_PROVIDERS = (
    "authgate.mfa.totp.TOTPProvider",
    "authgate.mfa.recovery_codes.RecoveryCodeProvider",
)

_lock = threading.Lock()
_providers: list[FactorProvider] | None = None
_extra: list[FactorProvider] = []


def register(provider: FactorProvider) -> FactorProvider:
    """Add `provider` to the registry (after the configured ones); returns it. Registering
    a second provider of the same `type` replaces the first."""
    if not isinstance(provider, FactorProvider) or not provider.type:
        raise TypeError("register() takes a FactorProvider instance with a `type`.")
    with _lock:
        _extra[:] = [p for p in _extra if p.type != provider.type] + [provider]
        reset()
    return provider


def unregister(type_: str) -> None:
    with _lock:
        _extra[:] = [p for p in _extra if p.type != type_]
        reset()


def reset() -> None:
    """Forget the built list (the settings changed); `register()`ed providers stay."""
    global _providers
    _providers = None


def providers() -> list[FactorProvider]:
    """The registered providers: MFA_PROVIDERS (default: TOTP, recovery codes), then the
    ones added with `register()`, a later one of the same type replacing an earlier one."""
    global _providers
    built = _providers
    if built is None:
        configured = [import_string(path)() if isinstance(path, str) else path() for path in api_settings.MFA_PROVIDERS]
        extra_types = {p.type for p in _extra}
        built = _providers = [p for p in configured if p.type not in extra_types] + list(_extra)
    return built


def get(type_: str) -> FactorProvider | None:
    return next((p for p in providers() if p.type == type_), None)


def enabled_providers(user: User) -> list[FactorProvider]:
    """The factors that are on for `user` (recovery codes excluded)."""
    return [p for p in providers() if p.is_factor and p.is_enabled(user)]


_REMEMBERED = "_authgate_has_factor"


def has_factor(user: User, *, remember: bool = False) -> bool:
    """True if the account has a second factor: every way in must then ask for it.

    `remember=True` (the password gate) keeps the answer on this user object for the one
    next `has_factor_once()` of the same login, so a login asks the database once."""
    found = any(p.is_factor and p.is_enabled(user) for p in providers())
    if remember:
        setattr(user, _REMEMBERED, found)
    return found


def has_factor_once(user: User) -> bool:
    """`has_factor(user)`, answered from what the password gate just found when it did
    (the remembered answer is used once, then forgotten)."""
    remembered = user.__dict__.pop(_REMEMBERED, None)
    return has_factor(user) if remembered is None else bool(remembered)


def methods(user: User) -> list[dict[str, Any]]:
    """Every active device of every factor of `user` (what `GET mfa/` lists)."""
    return [entry for p in providers() if p.is_factor for entry in p.methods(user)]


def challenges(user: User, request: HttpRequest | None) -> dict[str, Any]:
    """The extra fields of a 403 `mfa_required` answer, from the enabled factors."""
    extra: dict[str, Any] = {}
    for provider in enabled_providers(user):
        extra.update(provider.challenge(user, request))
    return extra


def verify(user: User, request: HttpRequest | None, data: dict[str, Any]) -> tuple[str, FactorProvider]:
    """(amr value, provider) of the first provider that accepts the proof in `data`;
    InvalidProof when one recognises it and refuses it, or when none recognises it."""
    for provider in providers():
        amr = provider.verify(user, request, data)
        if amr is not None:
            return amr, provider
    raise InvalidProof("unrecognised")


def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUTHGATE":
        reset()


setting_changed.connect(_reset_on_setting_change)
