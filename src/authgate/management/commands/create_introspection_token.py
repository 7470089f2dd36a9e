"""
`manage.py create_introspection_token <username>`: the service credential a resource
server uses to call the introspection endpoint. Creates the user if absent (with no
usable password: it is not a person), grants it `authgate.introspect_token`, creates a
static token and prints its key — the only time the key is shown.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandParser

from authgate import static_tokens


class Command(BaseCommand):
    help = "Create a static token allowed to call /api/auth/introspect/ and print its key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The service account (created if absent).")
        parser.add_argument("--name", default="introspection", help="Label of the token.")
        parser.add_argument("--expires-in", type=int, default=None, help="Lifetime in seconds (default: none).")

    def handle(self, *args: Any, username: str, name: str, expires_in: int | None, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            # No password given: Django stores an unusable one.
            user = user_model._default_manager.create_user(**{user_model.USERNAME_FIELD: username})
        permission = Permission.objects.get(content_type__app_label="authgate", codename="introspect_token")
        user.user_permissions.add(permission)
        _token, key = static_tokens.create_token(user, name=name, expires_in=expires_in)
        self.stdout.write(key)
