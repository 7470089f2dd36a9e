"""
The service's middleware that only browser routes need: Django's sessions, authentication
(from the session) and messages run for the admin and the account page, and are skipped on
the API's routes (`API_PATHS`), which authenticate with tokens and use neither.

Invariants: each class is a subclass of Django's own (so the admin's checks and anything
that looks for them by class still find them); on an API path a request gets no
`request.session`, and `request.user` is the anonymous user until the route's own
authentication sets it; everything else about a request is what Django's classes make it.
Sync and async alike (Django's MiddlewareMixin picks the mode).
"""

from collections.abc import Awaitable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponseBase

# Routes that never read a Django session: the token-authenticated API and the metrics.
API_PATHS = ("/api/", "/metrics", "/.well-known/")


Answer = HttpResponseBase | Awaitable[HttpResponseBase]  # an async chain's is awaited by the caller


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATHS)


class BrowserSessionMiddleware(SessionMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserAuthenticationMiddleware(AuthenticationMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if is_api(request):
            request.user = AnonymousUser()
            return self.get_response(request)
        return super().__call__(request)


class BrowserMessageMiddleware(MessageMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)
