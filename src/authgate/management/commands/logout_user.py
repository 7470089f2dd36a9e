"""`manage.py logout_user <username>`: end every session of one user."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authgate import sessions


class Command(BaseCommand):
    help = "End every session of one user (their JWTs stop working now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        ended = sessions.end_user_sessions(user, sessions.ADMIN)
        self.stdout.write(self.style.SUCCESS(f"{ended} session(s) of {username} ended."))
