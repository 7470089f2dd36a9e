"""`manage.py authgate_remove_factors <username>`: support removes every second factor of an
account (lost device and recovery codes); every session of the user ends."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authgate.mfa.staff import remove_factors


class Command(BaseCommand):
    help = "Remove every second factor and recovery code of one user, and end all their sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        devices, ended = remove_factors(user)
        self.stdout.write(
            self.style.SUCCESS(f"{devices} second factor(s) of {username} removed; {ended} session(s) ended.")
        )
