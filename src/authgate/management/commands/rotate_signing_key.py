"""
`manage.py rotate_signing_key`: rotate the RS256/EdDSA signing key in SIGNING_KEYS_DIR
without logging anyone out (see docs/interop.md, "Key rotation without logging anyone out").

    rotate_signing_key            first run: create current.pem; later: next.pem (or a
                                  new key) signs from now on, the old key only verifies
    rotate_signing_key --stage    create next.pem: published in the JWKS and accepted,
                                  not signing yet (give resource servers time to fetch it)

Retired public keys are deleted once every token they signed has expired. Running
server processes notice the change within SIGNING_KEYS_CHECK_INTERVAL (no restart).
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authgate import keys
from authgate.conf import api_settings


class Command(BaseCommand):
    help = "Rotate the asymmetric signing key kept in AUTHGATE['SIGNING_KEYS_DIR']."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keys-dir", help="Directory of keys (default: AUTHGATE['SIGNING_KEYS_DIR']).")
        parser.add_argument(
            "--algorithm",
            choices=[*keys.RSA_ALGORITHMS, "EdDSA"],
            help="Kind of key to generate (default: AUTHGATE['ALGORITHM']).",
        )
        parser.add_argument(
            "--stage",
            action="store_true",
            help="Only create next.pem (published, not signing); run again without it to switch.",
        )

    def handle(self, *args: Any, keys_dir: str | None, algorithm: str | None, stage: bool, **options: Any) -> None:
        keys_dir = keys_dir or api_settings.SIGNING_KEYS_DIR
        if not keys_dir:
            raise CommandError("No keys directory: pass --keys-dir or set AUTHGATE['SIGNING_KEYS_DIR'].")
        algorithm = algorithm or api_settings.ALGORITHM
        if algorithm not in keys.ASYMMETRIC_ALGORITHMS:
            raise CommandError(f"ALGORITHM is {algorithm}: pass --algorithm RS256 or EdDSA.")
        # A retired key is needed as long as a token it signed can still be valid.
        longest = max(api_settings.ACCESS_TOKEN_LIFETIME, api_settings.REFRESH_TOKEN_LIFETIME)
        try:
            result = keys.rotate_keys_dir(
                keys_dir, algorithm, stage=stage, keep_previous_for=longest + api_settings.LEEWAY
            )
        except (ImproperlyConfigured, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"signing kid: {result.signing_kid}")
        if result.staged_kid:
            self.stdout.write(f"staged kid:  {result.staged_kid} (published; run again without --stage to switch)")
        if result.retired_kid:
            self.stdout.write(f"retired kid: {result.retired_kid} (verifies until its tokens expire)")
        for kid in result.pruned:
            self.stdout.write(f"pruned kid:  {kid}")
        self.stdout.write(self.style.SUCCESS(f"Keys in {keys_dir} rotated."))
