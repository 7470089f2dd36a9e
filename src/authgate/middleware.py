"""
Middleware: a database outage answers a JSON 503, wherever it surfaces —
including Django's own session and CSRF machinery, outside DRF's exception handler.
"""

import logging

from django.db import InterfaceError, OperationalError

from .exceptions import database_unavailable_response

logger = logging.getLogger("authgate.errors")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("Database unavailable: %s", exception.__class__.__name__)
            return database_unavailable_response()
        return None
