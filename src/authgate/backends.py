"""
Authentication backend: log in with the username (any case or width) or the account's
email, resolved by `identity.resolve()` — the same answer the login throttle uses.

Like Django's ModelBackend, an unknown login still runs the password hasher once, so
unknown user, wrong password and inactive user take similar time.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from . import identity


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = self.find_account(username)
        if user is None:
            user_model().set_password(password)  # same cost as a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def find_account(username):
        """The user that a login name designates (see `identity.resolve`), or None."""
        return identity.resolve(username)
