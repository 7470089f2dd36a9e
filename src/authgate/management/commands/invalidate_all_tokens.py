"""`manage.py invalidate_all_tokens --confirm`: end every session of every user."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authgate import sessions, static_tokens


class Command(BaseCommand):
    help = "End every session of every user (all JWTs stop working now). Needs --confirm."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--confirm", action="store_true", help="Really do it.")
        parser.add_argument("--include-static-tokens", action="store_true", help="Also delete every static API token.")

    def handle(self, *args: Any, confirm: bool = False, include_static_tokens: bool = False, **options: Any) -> None:
        if not confirm:
            raise CommandError("This signs every user out everywhere. Re-run with --confirm to proceed.")
        ended = sessions.end_all_sessions()
        self.stdout.write(self.style.SUCCESS(f"All user sessions invalidated: {ended} session(s) ended."))
        if include_static_tokens:
            deleted = static_tokens.delete_all()
            self.stdout.write(self.style.SUCCESS(f"{deleted} static token(s) deleted."))
