"""`manage.py authgate_cleanup`: purge dead sessions, expired static tokens, activity
events older than ACTIVITY_RETENTION, attempt counters whose window ended and pending
second-factor logins and WebAuthn challenges past their lifetime (cron-safe)."""

from typing import Any

from django.core.management.base import BaseCommand

from authgate import activity, counters, sessions, static_tokens
from authgate.factors import pending
from authgate.mfa.webauthn import ceremonies


class Command(BaseCommand):
    help = (
        "Delete sessions that can no longer authenticate anything (ended, expired or idle past "
        "their refresh lifetime), expired static tokens, and security activity older than "
        "ACTIVITY_RETENTION, and attempt counters (failed logins, mails) whose window has ended. Safe to run at any time, e.g. from cron."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        purged = sessions.purge()
        tokens = static_tokens.purge_expired()
        events = activity.purge()
        windows = counters.purge()
        pending_logins = pending.purge()
        challenges = ceremonies.purge()
        self.stdout.write(
            self.style.SUCCESS(
                f"Purged {purged} session(s), {tokens} expired static token(s), {events} activity event(s) "
                f"{windows} ended attempt counter(s), {pending_logins} expired pending login(s) and "
                f"{challenges} expired WebAuthn challenge(s)."
            )
        )
