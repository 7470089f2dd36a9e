"""`manage.py import_drf_tokens`: move rest_framework.authtoken keys to hashed static tokens."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from authgate import static_tokens
from authgate.models import StaticToken


class Command(BaseCommand):
    help = (
        "Import DRF authtoken keys as authgate static tokens (stored hashed), so existing clients "
        "keep working with 'Authorization: Token <key>'. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delete-originals",
            action="store_true",
            help="Delete the plaintext rows from rest_framework.authtoken afterwards.",
        )

    def handle(self, *args: Any, delete_originals: bool = False, **options: Any) -> None:
        if not apps.is_installed("rest_framework.authtoken"):
            raise CommandError("rest_framework.authtoken is not in INSTALLED_APPS: nothing to import.")
        from rest_framework.authtoken.models import Token

        imported = skipped = 0
        # One transaction: --delete-originals never drops a key that was not imported.
        with transaction.atomic():
            for legacy in Token.objects.select_related("user").iterator():
                if StaticToken.objects.filter(digest=static_tokens.digest(legacy.key)).exists():
                    skipped += 1
                    continue
                static_tokens.create_token(
                    legacy.user, name="imported from DRF authtoken", key=legacy.key, created_at=legacy.created
                )
                imported += 1
            if delete_originals:
                Token.objects.all().delete()
        self.stdout.write(self.style.SUCCESS(f"Imported {imported} token(s); {skipped} already present."))
