"""`manage.py authgate_install_triggers [--database ALIAS]`: (re)create authgate's database
triggers — deactivation, and on PostgreSQL the NOTIFY triggers of the session cache's bus —
as the migrations and `migrate` do (see `authgate.revocation.triggers`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from authgate.revocation import triggers


class Command(BaseCommand):
    help = "(Re)create authgate's database triggers (deactivation; NOTIFY on PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        connection = connections[database]
        if triggers.install(connection, notify=True):
            self.stdout.write(f"Installed authgate's triggers on {database!r} ({connection.vendor}).")
        else:
            self.stdout.write(f"No triggers installed on {database!r}: not supported there, or not migrated yet.")
