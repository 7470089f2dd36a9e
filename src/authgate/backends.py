"""
Authentication backend: log in with the username (any case or width) or the account's
email, resolved by `identity.resolve()` — the same answer the login throttle uses.

Every call goes through the password gate (`authgate.account.gate`), so a password
checked by `django.contrib.auth.authenticate()` — the Django admin's login form, a
project's own login view — counts in the same failed-login budget as the API login:
once the budget of an account and address (or of an address) is spent, the backend
raises `PasswordThrottled`, a `PermissionDenied`, and `authenticate()` stops there
without consulting another backend (and sends `user_login_failed`, as for any refusal).

Like Django's ModelBackend, an unknown login still runs the password hasher once, so
unknown user, wrong password and inactive user take similar time.
"""

from typing import Any, cast

from django.http import HttpRequest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from . import identity
from .account import gate
from .types import User


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if gate.is_judging():  # the gate called authenticate(): it holds this attempt's place
            return self.judge(username, password)
        try:
            return gate.check_password(request, username, password, judge=lambda: self.judge(username, password))
        except gate.WrongPassword:
            return None

    def judge(self, username: str, password: str) -> User | None:
        """The account if `password` is its password and it may log in, else None."""
        user = self.find_account(username)
        if user is None:
            get_user_model()().set_password(password)  # same cost as a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def find_account(username: str) -> User | None:
        """The user that a login name designates (see `identity.resolve`), or None: the
        password gate's own lookup of it for this check when there is one (the throttle
        resolved the same name a moment before), else a lookup."""
        found = gate.resolved_account(username)
        return identity.resolve(username) if found is gate.UNRESOLVED else cast(User | None, found)
