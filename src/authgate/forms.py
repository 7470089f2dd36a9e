"""
Django forms that go through the password gate and say so.

`ThrottledLoginMixin` turns the error of an `AuthenticationForm` whose attempt the
failed-login throttle refused into one that says so: "Too many failed login attempts.
Try again in N minutes." instead of Django's "Please enter a correct username and
password" (which would invite another guess). The password was not checked then: the gate
refuses before any hash. The admin's login form that authgate installs
(`authgate.mfa.forms.AdminLoginForm`) has it; mix it into a project's own login form
ahead of the `AuthenticationForm` class.

`VerifiedEmailLoginMixin` applies the rule a password login adds once the password was
right (`gate.password_login()`): with REQUIRE_EMAIL_VERIFICATION an account whose address
is not verified is not logged in (Django's `confirm_login_allowed()` hook, so a wrong
password never learns it). The admin's form has it too.
"""

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from . import recovery
from .account import gate
from .errors import EmailUnverified


class ThrottledLoginMixin(forms.Form):
    """An AuthenticationForm whose throttled attempts answer "too many failed attempts"."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean() or {}
        except ValidationError:
            refused = gate.throttled_on(getattr(self, "request", None))
            if refused is None:
                raise
            minutes = max(1, math.ceil(refused.retry_after / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed login attempts. Try again in %(minutes)d minute.",
                    "Too many failed login attempts. Try again in %(minutes)d minutes.",
                    minutes,
                ),
                code="throttled",
                params={"minutes": minutes},
            ) from None


class VerifiedEmailLoginMixin(forms.Form):
    """An AuthenticationForm that, with REQUIRE_EMAIL_VERIFICATION, refuses an account whose
    address is not verified yet (only once the password was right), as the API login does."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)  # type: ignore[misc]  # the AuthenticationForm's: active, staff
        try:
            recovery.require_verified_email(user)
        except EmailUnverified as refused:
            raise ValidationError(str(refused.detail), code="email_unverified") from None
