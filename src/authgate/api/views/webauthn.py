"""
The WebAuthn endpoints: adding a security key or passkey (`mfa/webauthn/register/begin/`,
`…/complete/`), removing one (`mfa/webauthn/{id}/`), and passwordless login
(`passkey/login/begin/`, `…/complete/`). Using a key as the second factor goes through
`mfa/verify/` and `reauthenticate/` (the provider registry), not through these views.

Invariants:
- Passwordless login honours every rule of a password login: the failed-login throttle
  (reserved before the assertion is checked, counted against the key's account and the
  IP; a success resets it), inactive accounts refused with the same answer as a wrong key,
  `REQUIRE_EMAIL_VERIFICATION`; it answers through `login_response()`, exactly as `login/`
  (the pair, or the cookies), with the session's `amr` the key's value plus `user` (user
  verification is required), so it counts as a second-factor proof.
- Adding a key to an account that already has a second factor, and removing a key, need a
  recent second-factor proof on the session (`reauth.require_recent`); a key added proves
  the factor for the session that added it.
- Every outcome is one event: a key added, removed or used, or a registration refused,
  is a factor event (`factors.events`: activity trail, metrics, mail); a refused passwordless
  login is a failed login (Django's `user_login_failed`), as a wrong password is.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_login_failed
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from ... import counters, recovery, sessions
from ...factors import events, reauth, registry
from ...mfa import recovery_codes
from ...mfa.webauthn import ceremonies
from ...mfa.webauthn.models import WebAuthnCredential
from ...net import client_ip, user_of
from ...throttling import LoginThrottle
from ...types import User
from ..schema import extend_schema, inline_serializer
from ..serializers import LoginResponseSerializer
from .base import ERRORS, AuthgateAPIView, PublicView
from .steps import login_response

FACTOR = "webauthn"
# `passkey/login/begin/` is open to anyone and stores a challenge: at most this many a
# minute per client address (each stored challenge lives until it is used or expires).
BEGIN_PER_ADDRESS_PER_MINUTE = 30
ERROR = {"description": "{detail, code}"}


class InvalidRegistration(APIException):
    """400 `invalid_credential`: a registration response that does not verify."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The security key or passkey could not be verified.")
    default_code = "invalid_credential"


class PasskeyNotAccepted(AuthenticationFailed):
    """401 `invalid_credentials`: the passwordless login's answer to any refused assertion
    (unknown key, bad signature, wrong origin or RP ID, spent challenge, inactive account)."""

    default_detail = _("This passkey could not sign you in.")
    default_code = "invalid_credentials"


class RegisterCompleteSerializer(serializers.Serializer[dict[str, Any]]):
    credential = serializers.JSONField(help_text=_("The new credential: credential.toJSON()."))
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_credential(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Expected a JSON object."))
        return value


class PasskeyLoginSerializer(serializers.Serializer[dict[str, Any]]):
    challenge_id = serializers.UUIDField()
    credential = serializers.JSONField(help_text=_("The assertion: credential.toJSON()."))
    cookies = serializers.BooleanField(required=False, default=False)
    device = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_credential(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Expected a JSON object."))
        return value


def _validated(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


PUBLIC_KEY = inline_serializer("WebAuthnOptions", {"publicKey": serializers.JSONField()})


@extend_schema(tags=["second factors"])
class RegisterBeginView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: PUBLIC_KEY, 401: ERRORS[401], 403: ERROR})
    def post(self, request: Request) -> Response:
        """Options for `navigator.credentials.create()` (PublicKeyCredentialCreationOptionsJSON:
        feed them to `PublicKeyCredential.parseCreationOptionsFromJSON()`)."""
        reauth.require_recent(request)  # only for an account that already has a factor
        return Response({"publicKey": ceremonies.registration_options(user_of(request), request._request)})


@extend_schema(tags=["second factors"])
class RegisterCompleteView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=RegisterCompleteSerializer,
        responses={
            201: inline_serializer(
                "WebAuthnAdded",
                {
                    "id": serializers.CharField(),
                    "name": serializers.CharField(),
                    "recovery_codes": serializers.ListField(child=serializers.CharField(), required=False),
                },
            ),
            400: ERRORS[400],
            401: ERRORS[401],
            403: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        """Store the new key (`credential.toJSON()` of the created credential). The account's
        first factor also answers its ten recovery codes, shown this once."""
        data = _validated(RegisterCompleteSerializer, request)
        user = user_of(request)
        reauth.require_recent(request)
        first = not registry.has_factor(user)
        try:
            key = ceremonies.register(user, request._request, data["credential"], data["name"].strip())
        except ceremonies.CeremonyFailed as error:
            events.failed(user, request._request, f"register_{error.reason}")
            raise InvalidRegistration(error.detail) from None
        body: dict[str, Any] = {"id": str(key.pk), "name": key.name}
        if first and recovery_codes.remaining(user) == 0:
            body["recovery_codes"] = recovery_codes.issue(user)
        session_id = getattr(request.auth, "session_id", None)
        if session_id:  # turning a factor on proves it for this session
            sessions.record_authentication(str(session_id), [key.amr])
        events.added(user, request, FACTOR, key.name)
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["second factors"])
class CredentialDetailView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None, 401: ERRORS[401], 403: ERROR, 404: ERROR})
    def delete(self, request: Request, credential_id: int) -> Response:
        """Remove one security key or passkey (needs a recent second-factor proof)."""
        key = get_object_or_404(WebAuthnCredential, pk=credential_id, user=user_of(request))
        reauth.require_recent(request, factor_only=True)
        user = user_of(request)
        with transaction.atomic():
            ceremonies.remove(key)
            if not registry.has_factor(user):
                recovery_codes.remove(user)
        events.removed(user, request, FACTOR)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class PasskeyLoginBeginView(PublicView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "PasskeyLoginOptions", {"publicKey": serializers.JSONField(), "challenge_id": serializers.UUIDField()}
            ),
            429: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        """Options for `navigator.credentials.get()` (PublicKeyCredentialRequestOptionsJSON)
        with no key listed: the browser offers the passkeys it has for this site. Each call
        stores a challenge, so each address may ask a bounded number of times a minute."""
        ip = client_ip(request)
        if ip:
            allowed, retry_after = counters.hit(
                f"passkey-begin:{ip}", BEGIN_PER_ADDRESS_PER_MINUTE, 60, label="passkey login", ip=ip
            )
            if not allowed:
                raise Throttled(wait=retry_after)
        row, public_key = ceremonies.assertion_options(request._request)
        return Response({"publicKey": public_key, "challenge_id": str(row.pk)})


@extend_schema(tags=["auth"])
class PasskeyLoginCompleteView(PublicView):
    @extend_schema(
        request=PasskeyLoginSerializer,
        responses={200: LoginResponseSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERROR, 429: ERROR},
        description="Passwordless login: `{challenge_id, credential}`; answers what `login/` answers.",
    )
    def post(self, request: Request) -> Response:
        data = _validated(PasskeyLoginSerializer, request)
        credential = data["credential"]
        owner = _owner_of(credential)
        throttle = LoginThrottle(request, owner.get_username() if owner else "", user=owner)
        throttle.reserve()  # before the signature is checked: concurrent attempts count exactly
        try:
            key = ceremonies.check_assertion(request._request, credential, challenge_id=data["challenge_id"])
        except ceremonies.CeremonyFailed as error:
            throttle.failed()
            _login_failed(request, owner)
            raise PasskeyNotAccepted(error.detail) from None
        user = key.user
        if not user.is_active:
            throttle.failed()
            _login_failed(request, owner)
            raise PasskeyNotAccepted()
        throttle.succeeded()
        recovery.require_verified_email(user)
        events.used(user, request._request, FACTOR)
        return login_response(request, user, device=data["device"], cookies=data["cookies"], amr=[key.amr, "user"])


def _login_failed(request: Request, owner: User | None) -> None:
    """A refused passwordless login is a failed login, as a wrong password is: Django's
    `user_login_failed` (the activity trail's `login_failed` row, the login metrics)."""
    name = owner.get_username() if owner is not None else ""
    user_login_failed.send(sender=__name__, credentials={"username": name, "passkey": True}, request=request._request)


def _owner_of(credential: dict[str, Any]) -> User | None:
    """The account a credential id names (for the throttle), before anything is verified."""
    credential_id = credential.get("id")
    if not isinstance(credential_id, str) or len(credential_id) > 1400:
        return None
    key = WebAuthnCredential.objects.select_related("user").filter(credential_id=credential_id).first()
    return key.user if key is not None else None
