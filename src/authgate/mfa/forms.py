"""
The Django admin's login form with the second factor in it: username, password, and a
code (from the authenticator app, or a recovery code). For an account with a second
factor, the right password alone does not log in: without a code the form answers
"enter your code"; a wrong code is a form error and counts in the account's login
throttle, as at `mfa/verify/`. Accounts without a factor see an optional, empty field.

A security key alone cannot be used in this form (it has no WebAuthn ceremony): such an
account signs in to the admin with a recovery code. `AuthgateConfig.ready()` installs the
form on `django.contrib.admin.site` when the project has not set its own `login_form`
(a project that has: subclass `SecondFactorLoginMixin` into it; system check
`authgate.W010` says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import APIException

from ..factors import gate, registry
from ..forms import ThrottledLoginMixin, VerifiedEmailLoginMixin

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ..types import User


class SecondFactorLoginMixin(forms.Form):
    """Adds `code` to an AuthenticationForm and checks it after the password."""

    code = forms.CharField(
        label=_("Authentication code"),
        required=False,
        max_length=64,
        strip=True,
        help_text=_("Only if your account has a second factor: the code from your app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    if TYPE_CHECKING:  # what the AuthenticationForm this is mixed into provides
        request: HttpRequest | None

        def get_user(self) -> User: ...  # as django-stubs has it (None before a valid login)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}  # the password (and the throttle) first
        user = self.get_user()
        if user is None or not registry.has_factor_once(user):
            return cleaned
        code = cleaned.get("code") or ""
        if not code:
            raise ValidationError(
                _("This account has a second factor: enter the code from your authenticator app or a recovery code."),
                code="mfa_required",
            )
        try:
            gate.check_second_factor(user, self.request, {"code": code})
        except APIException as error:  # invalid_code, or throttled
            raise ValidationError(str(error.detail), code=str(error.default_code)) from None
        return cleaned


class AdminLoginForm(SecondFactorLoginMixin, ThrottledLoginMixin, VerifiedEmailLoginMixin, AdminAuthenticationForm):
    """`django.contrib.admin`'s login form, with the second factor; a throttled attempt
    says so (`authgate.forms.ThrottledLoginMixin`); with REQUIRE_EMAIL_VERIFICATION an
    unverified address is refused (`authgate.forms.VerifiedEmailLoginMixin`)."""
