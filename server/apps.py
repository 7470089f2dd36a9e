"""The ready-to-run service as a Django app: its management commands, and its start-up warnings."""

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("authgate.server")


class ServerConfig(AppConfig):
    name = "server"
    label = "server"

    def ready(self):
        # Logging is configured by now (unlike while settings.py runs), so these lines take
        # the service's log format: one JSON object each with LOG_FORMAT=json.
        for message in getattr(settings, "STARTUP_WARNINGS", []):
            logger.warning(message)
