"""The ready-to-run service as a Django app: its management commands, and its start-up warnings.

Invariant: the start-up warnings are said once per start, not once per process. The first
process to say them marks the environment (STARTUP_WARNED); the processes it starts inherit
the mark and stay quiet: gunicorn's workers (the master says them, server/gunicorn.conf.py),
runserver's reloaded child, and the `make run` steps after the first.
"""

import logging
import os
from collections.abc import Callable

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("authgate.server")
STARTUP_WARNED = "AUTHGATE_STARTUP_WARNED"


def warn_once(log: Callable[[str], object]) -> None:
    """Says each of settings.STARTUP_WARNINGS through `log`, unless this start already did."""
    if os.environ.get(STARTUP_WARNED):
        return
    for message in getattr(settings, "STARTUP_WARNINGS", []):
        log(message)
    os.environ[STARTUP_WARNED] = "1"


class ServerConfig(AppConfig):
    name = "server"
    label = "server"

    def ready(self) -> None:
        # Logging is configured by now (unlike while settings.py runs), so these lines take
        # the service's log format: one JSON object each with LOG_FORMAT=json.
        warn_once(logger.warning)
