"""
Middleware: a database outage answers a JSON 503, wherever it surfaces —
including Django's own session and CSRF machinery, outside DRF's exception handler.
"""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from .errors import database_unavailable_response

logger = logging.getLogger("authgate.errors")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("Database unavailable: %s", exception.__class__.__name__)
            return database_unavailable_response()
        return None
