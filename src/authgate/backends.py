"""
Authentication backend: log in with the username or the account's email.

The lookup tries the username first, then the email case-insensitively. Like Django's
ModelBackend, an unknown login still runs the password hasher once, so unknown user,
wrong password and inactive user take similar time.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


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
        """The user that a login name designates (its username, else its email), or None."""
        user_model = get_user_model()
        manager = user_model._default_manager
        user = manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None and "@" in username:
            email_field = user_model.get_email_field_name()
            user = manager.filter(**{f"{email_field}__iexact": username}).order_by("pk").first()
        return user
