"""
Django's own login sessions (the admin's, django-allauth's: whatever `django.contrib.auth.login()`
opened) end when their account is signed out everywhere, as authgate's sessions do.

Invariants:
- `stamp()` (a `user_logged_in` receiver) notes in a Django login session when it began;
  a login that opened no Django session (authgate's API logins) is left alone, so no
  session is written for it;
- `SignedOutEverywhereMiddleware`, after Django's `AuthenticationMiddleware`, ends a login
  session that began at or before its account's credential cutoff (`authgate.cutoffs`:
  logout everywhere, an admin's logout of the user, invalidate-all; a password change ends
  it already through Django's session hash), and one that carries no beginning (opened
  before this rule) once any cutoff applies; the request then goes on anonymous. A request
  without a Django login session costs nothing (no query);
- the answer to a Django login carries the device cookie that login was given
  (`authgate.notifications`: a sign-in from a new device is told by mail).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from . import cutoffs, notifications

SIGNED_IN_AT = "authgate_signed_in_at"  # in the Django session: Unix time of the login


def stamp(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """`user_logged_in`: note when a Django login session began."""
    session = getattr(request, "session", None)
    if session is not None and SESSION_KEY in session:
        session[SIGNED_IN_AT] = time.time()


class SignedOutEverywhereMiddleware(MiddlewareMixin):
    """Ends the Django login session of an account signed out everywhere since it began."""

    def process_request(self, request: HttpRequest) -> None:
        session = getattr(request, "session", None)
        user_id = session.get(SESSION_KEY) if session is not None else None
        if user_id is None:
            return
        cutoff = cutoffs.not_before_pk(user_id)
        began = session.get(SIGNED_IN_AT)  # type: ignore[union-attr]  # a session is there
        if cutoff is None or (isinstance(began, (int, float)) and began > cutoff.timestamp()):
            return
        session.flush()  # type: ignore[union-attr]
        request.user = AnonymousUser()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        notifications.set_device_cookie(request, response)  # only after a login gave one
        return response
