"""
authgate sessions for django-allauth's headless API (the `authgate[allauth]` extra).

    HEADLESS_TOKEN_STRATEGY = "authgate.contrib.allauth.AuthgateTokenStrategy"

allauth keeps doing the authentication — its login, signup, verification, rate limits and
second factors — and the app client still carries allauth's `X-Session-Token` for allauth's
own endpoints. Once a user is authenticated, the app gets authgate's pair instead of a bare
session token: an `access_token` for the project's APIs (DRF, Ninja, plain views, websockets)
and a `refresh_token` that allauth's `POST .../tokens/refresh` rotates with reuse detection.

Invariants:
- one allauth login opens one authgate session (its id kept in the allauth session);
- the two end together: allauth's logout ends the authgate session, and once the authgate
  session has ended (logout, logout everywhere, password change, reuse, deactivation) the
  allauth session token is refused too (allauth answers 410);
- `refresh_token()` is `sessions.rotate`: the retry window, reuse detection and the
  absolute session limit all apply; a refused token answers None (allauth's 400);
- authgate's own rules hold past allauth's login (`may_issue()`): an account with one of
  authgate's second factors gets no pair unless allauth proved a second factor in that
  login, and with REQUIRE_EMAIL_VERIFICATION none unless authgate or allauth has verified
  its address. allauth's session itself stays allauth's business.
"""

from __future__ import annotations

import uuid
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.models import EmailAddress
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from .. import factors, recovery, sessions
from ..models import Session
from ..conf import api_settings
from ..net import client_ip
from ..tokens import TokenError
from ..types import User

SESSION_KEY = "authgate_session_id"  # in the allauth (Django) session


class AuthgateTokenStrategy(SessionTokenStrategy):
    """allauth's session-token strategy, with authgate's access and refresh tokens."""

    def create_access_token_payload(self, request: HttpRequest) -> dict[str, Any] | None:
        user = request.user
        if not user.is_authenticated or not self.may_issue(request, user):
            return None
        session, pair = sessions.open_session(
            user,
            device=self.device_name(request),
            ip=client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            request=request,
        )
        request.session[SESSION_KEY] = session.id.hex
        return {
            "access_token": pair.access,
            "refresh_token": pair.refresh,
            "expires_in": int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        }

    def create_access_token(self, request: HttpRequest) -> str | None:
        payload = self.create_access_token_payload(request)
        return None if payload is None else str(payload["access_token"])

    def may_issue(self, request: HttpRequest, user: User) -> bool:
        """Whether this allauth login may open an authgate session: every way in asks for
        authgate's second factor (allauth's own `mfa` step in this login counts) and, with
        REQUIRE_EMAIL_VERIFICATION, a verified address (by authgate, or by allauth)."""
        proven = {record.get("method") for record in get_authentication_records(request, user)}
        if "mfa" not in proven and factors.has_factor(user):
            return False
        if api_settings.REQUIRE_EMAIL_VERIFICATION and not recovery.is_email_verified(user):
            email = recovery.email_of(user)
            return bool(email) and EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
        return True

    def device_name(self, request: HttpRequest) -> str:
        """Hook: the label of the session in the user's device list."""
        return "allauth"

    def refresh_token(self, refresh_token: str) -> tuple[str, str] | None:
        try:
            pair = sessions.rotate(refresh_token)
        except TokenError:
            return None
        return pair.access, pair.refresh

    def lookup_session(self, session_token: str) -> SessionBase | None:
        session: SessionBase | None = super().lookup_session(session_token)
        if session is None:
            return None
        session_id = session.get(SESSION_KEY)
        if session_id and not _live(session_id):
            session.flush()  # its authgate session ended: so does this one
            return None
        return session


def _live(session_id: str) -> bool:
    try:
        pk = uuid.UUID(hex=session_id)
    except ValueError:
        return False
    return Session.objects.filter(pk=pk, ended_at__isnull=True, user__is_active=True).exists()


def _on_logged_out(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """allauth's logout (Django's `logout()`) ends the authgate session of that login."""
    session = getattr(request, "session", None)
    session_id = session.get(SESSION_KEY) if session is not None else None
    if session_id:
        try:
            sessions.end_session_by_id(session_id, sessions.LOGOUT)
        except ValueError:
            pass


user_logged_out.connect(_on_logged_out, dispatch_uid="authgate.contrib.allauth.logged_out")
