"""`manage.py ensure_superuser` (the service's own): create the DJANGO_SUPERUSER_* staff user when absent (make run)."""

import os

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from authgate import recovery


class Command(BaseCommand):
    help = "Create the superuser named by DJANGO_SUPERUSER_USERNAME/PASSWORD[/EMAIL] if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not username or not password:
            return
        user_model = get_user_model()
        if user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).exists():
            self.stdout.write(f"Superuser {username} already exists.")
            return
        user = user_model._default_manager.create_superuser(
            username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""), password=password
        )
        if recovery.email_of(user):
            # The operator vouches for the address: REQUIRE_EMAIL_VERIFICATION must not lock
            # the service's own administrator out of the API.
            recovery.mark_verified(user)
        self.stdout.write(self.style.SUCCESS(f"Superuser {username} created."))
