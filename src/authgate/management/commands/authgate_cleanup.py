"""`manage.py authgate_cleanup`: purge dead sessions, expired static tokens and activity
events older than ACTIVITY_RETENTION (cron-safe)."""
from django.core.management.base import BaseCommand

from authgate import activity, sessions, static_tokens


class Command(BaseCommand):
    help = ("Delete sessions that can no longer authenticate anything (ended, expired or idle past "
            "their refresh lifetime), expired static tokens, and security activity older than "
            "ACTIVITY_RETENTION. Safe to run at any time, e.g. from cron.")

    def handle(self, *args, **options):
        purged = sessions.purge()
        tokens = static_tokens.purge_expired()
        events = activity.purge()
        self.stdout.write(self.style.SUCCESS(
            f"Purged {purged} session(s), {tokens} expired static token(s) and {events} activity event(s)."))
