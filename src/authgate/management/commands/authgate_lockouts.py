"""`manage.py authgate_lockouts`: list the current lockouts, or lift some (`--lift`).

`--user NAME` selects every lockout of that account: its failed-login counts (per IP) and
the mail limits of its address (reset, verification and change notices); `--lift` lifts
exactly the lockouts the same selection lists."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from authgate import counters, identity, recovery
from authgate.throttling import IP_SCOPE, MAIL_EMAIL_SCOPE, USER_IP_SCOPE, subject


def _of_user(name: str) -> Q:
    """The lockouts of the account `name` resolves to (or of the name itself)."""
    who, _label = subject(name)
    account = identity.resolve(name)
    address = recovery.email_of(account) if account is not None else (name if "@" in name else "")
    selected = Q(key__startswith=f"{USER_IP_SCOPE}:{who}|")
    if address:
        canonical = identity.canonical(address.strip())
        # The mail limits of the address, whatever the kind of mail: labelled with it (the
        # key of a very long address is stored hashed, its label still names it).
        selected |= Q(key__startswith=f"{MAIL_EMAIL_SCOPE}:", label=canonical[:200])
    return selected


class Command(BaseCommand):
    help = (
        "List who is locked out (failed logins and other attempt limits), from which IP and "
        "until when; with --lift, lift the lockouts selected by --user/--ip (or --all)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="a login name (username or email, any case): its account's lockouts")
        parser.add_argument("--ip", help="lockouts of this IP address")
        parser.add_argument("--lift", action="store_true", help="lift the selected lockouts")
        parser.add_argument("--all", action="store_true", help="with --lift and no filter: lift every lockout")

    def handle(
        self,
        *args: Any,
        user: str | None = None,
        ip: str | None = None,
        lift: bool = False,
        all: bool = False,
        **options: Any,
    ) -> None:
        selected = counters.lockouts()
        if user:
            selected = selected.filter(_of_user(user))
        if ip:
            selected = selected.filter(Q(ip=ip) | Q(key=f"{IP_SCOPE}:{ip}"))
        if lift and not (user or ip or all):
            raise CommandError("--lift needs --user, --ip or --all.")
        rows = list(selected.order_by("window_ends"))
        if not lift:
            if not rows:
                self.stdout.write("No current lockouts.")
            for row in rows:
                self.stdout.write(
                    f"{row.scope:16} {row.label or '-':30} {row.ip or '-':39} "
                    f"{row.count}/{row.limit} until {row.window_ends.isoformat(timespec='seconds')}"
                )
            return
        for row in rows:
            counters.reset(row.key)
        self.stdout.write(self.style.SUCCESS(f"{len(rows)} lockout(s) lifted."))
