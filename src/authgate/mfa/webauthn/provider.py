"""
WebAuthn as a second factor: the `FactorProvider` of the registry (type "webauthn").

- `challenge()` adds `{"webauthn": {"publicKey": PublicKeyCredentialRequestOptionsJSON}}`
  to the 403 `mfa_required` and `reauthentication_required` answers: a stored single-use
  challenge bound to the user, listing the user's keys.
- `verify()` answers for a `{"credential": ...}` proof naming one of the user's keys only
  (a `code`, or a credential no key of the user has, is left to the other providers and
  then refused by the registry): the assertion must answer a live challenge of that user, be signed by one of
  the user's keys, come from an allowed origin for the RP ID, and move the counter
  forward (`ceremonies.check_assertion`). It answers the key's RFC 8176 value: `hwk` for a
  device-bound key, `swk` for a synced passkey.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...factors import FactorProvider, InvalidProof
from .models import WebAuthnCredential
from ...types import User

if TYPE_CHECKING:
    from django.http import HttpRequest


class WebAuthnProvider(FactorProvider):
    type = "webauthn"

    def methods(self, user: User) -> list[dict[str, Any]]:
        return [
            {
                "type": self.type,
                "id": key.pk,
                "name": key.name,
                "created_at": key.created_at,
                "last_used_at": key.last_used_at,
            }
            for key in WebAuthnCredential.objects.filter(user=user).order_by("created_at", "pk")
        ]

    def is_enabled(self, user: User) -> bool:
        return WebAuthnCredential.objects.filter(user=user).exists()

    def challenge(self, user: User, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:  # no request, no origin to bind a ceremony to
            return {}
        from . import ceremonies

        _row, public_key = ceremonies.assertion_options(request, user)
        return {"webauthn": {"publicKey": public_key}}

    def verify(self, user: User, request: HttpRequest | None, data: dict[str, Any]) -> str | None:
        credential = data.get("credential")
        credential_id = credential.get("id") if isinstance(credential, dict) else None
        if not isinstance(credential_id, str) or len(credential_id) > 1400:
            return None  # not a WebAuthn assertion: another provider's, or none's
        if not WebAuthnCredential.objects.filter(user=user, credential_id=credential_id).exists():
            return None  # not one of this user's keys (the registry then refuses it)
        if request is None:
            raise InvalidProof("no_request")
        from . import ceremonies

        try:
            key = ceremonies.check_assertion(request, data["credential"], user=user)
        except ceremonies.CeremonyFailed as error:
            raise InvalidProof(error.reason, error.detail) from None
        return key.amr

    def remove_all(self, user: User) -> int:
        return int(WebAuthnCredential.objects.filter(user=user).delete()[0])
