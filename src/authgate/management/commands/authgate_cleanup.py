"""`manage.py authgate_cleanup`: purge dead sessions and expired static tokens (cron-safe)."""
from django.core.management.base import BaseCommand

from authgate import sessions, static_tokens


class Command(BaseCommand):
    help = ("Delete sessions that can no longer authenticate anything (ended, expired or idle past "
            "their refresh lifetime) and expired static tokens. Safe to run at any time, e.g. from cron.")

    def handle(self, *args, **options):
        purged = sessions.purge()
        tokens = static_tokens.purge_expired()
        self.stdout.write(self.style.SUCCESS(f"Purged {purged} session(s) and {tokens} expired static token(s)."))
