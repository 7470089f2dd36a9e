"""
The WebAuthn ceremonies, verified by py_webauthn: options out in the W3C Level 3 JSON
forms (what `PublicKeyCredential.parseCreationOptionsFromJSON()` /
`parseRequestOptionsFromJSON()` take), responses in as `credential.toJSON()` gives them.

Invariants:
- The relying party is `WEBAUTHN_RP_ID` (default: the request's host name, as Django's
  `get_host()` validated it against ALLOWED_HOSTS) and the allowed origins are
  `WEBAUTHN_ORIGINS` (default: the request's own origin). Both are checked on every
  response, by py_webauthn; so are the challenge, the signature and the counter.
- A challenge works once: `_consume()` deletes its row with one conditional DELETE
  (digest, purpose, user, not expired) *before* the response is verified; of two requests
  carrying the same response only one gets the row, and a failed check burns it too.
- The signature counter only moves forward (`record_use`: compare-and-set UPDATE); an
  assertion whose counter is not above the stored one is refused (a cloned key or a
  replay), except for authenticators that always report 0 (synced passkeys).
- Every failure is a `CeremonyFailed` with a short machine `reason`; nothing from a
  hostile body escapes as another exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ...conf import api_settings
from .models import WebAuthnChallenge, WebAuthnCredential
from ...types import User

if TYPE_CHECKING:
    from datetime import datetime

    from django.http import HttpRequest
    from django.utils.functional import _StrPromise as StrPromise

# ES256, EdDSA and RS256 (COSE -7, -8, -257): what every current authenticator offers.
ALGORITHMS = (-7, -8, -257)


class CeremonyFailed(Exception):
    """A registration or assertion that does not verify. `reason` is a short machine word
    (for logs, metrics and the activity trail); `detail` is for a person."""

    def __init__(self, reason: str, detail: str | StrPromise | None = None) -> None:
        self.reason = reason
        self.detail = detail or _("The security key or passkey could not be verified.")
        super().__init__(f"{reason}: {self.detail}")


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]


def relying_party(request: HttpRequest) -> RelyingParty:
    """The RP ID, name and allowed origins for `request` (see the module docstring)."""
    host = request.get_host()  # validated against ALLOWED_HOSTS
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    rp_id = api_settings.WEBAUTHN_RP_ID or hostname.strip("[]")
    configured = api_settings.WEBAUTHN_ORIGINS
    if isinstance(configured, str):
        configured = [o.strip() for o in configured.split(",") if o.strip()]
    origins = tuple(configured) if configured else (f"{request.scheme}://{host}",)
    return RelyingParty(id=rp_id, name=api_settings.WEBAUTHN_RP_NAME or rp_id, origins=origins)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: Any) -> bytes:
    if not isinstance(text, str) or len(text) > 4096:
        raise CeremonyFailed("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CeremonyFailed("malformed") from None


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _store_challenge(
    purpose: str, rp: RelyingParty, user: User | None = None, user_handle: str = ""
) -> tuple[WebAuthnChallenge, bytes]:
    challenge = secrets.token_bytes(32)
    row = WebAuthnChallenge.objects.create(
        digest=_digest(challenge),
        purpose=purpose,
        user=user,
        rp_id=rp.id,
        user_handle=user_handle,
        expires_at=timezone.now() + api_settings.WEBAUTHN_CHALLENGE_LIFETIME,
    )
    return row, challenge


def _challenge_in(credential: object) -> bytes:
    """The challenge the browser signed, read from the response's clientDataJSON."""
    from webauthn.helpers import parse_client_data_json
    from webauthn.helpers.exceptions import WebAuthnException

    if not isinstance(credential, dict) or not isinstance(credential.get("response"), dict):
        raise CeremonyFailed("malformed", _("`credential` must be the object credential.toJSON() gives."))
    raw = _unb64url(credential["response"].get("clientDataJSON"))
    try:
        return parse_client_data_json(raw).challenge
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise CeremonyFailed("malformed") from None


def _consume(
    credential: Any, purpose: str, user: User | None = None, challenge_id: Any = None
) -> tuple[WebAuthnChallenge, bytes]:
    """The live challenge `credential` answers, deleted (single use), or CeremonyFailed."""
    challenge = _challenge_in(credential)
    rows = WebAuthnChallenge.objects.filter(digest=_digest(challenge), purpose=purpose, expires_at__gt=timezone.now())
    rows = rows.filter(user=user) if user is not None else rows.filter(user__isnull=True)
    if challenge_id is not None:
        rows = rows.filter(pk=challenge_id)
    row = rows.first()
    # The DELETE decides: of two requests with the same response, one deletes the row.
    if row is None or WebAuthnChallenge.objects.filter(pk=row.pk).delete()[0] != 1:
        raise CeremonyFailed("challenge", _("This sign-in attempt has expired or was already used. Start again."))
    return row, challenge


def purge(now: datetime | None = None) -> int:
    """Delete expired challenges (the cleanup command)."""
    return int(WebAuthnChallenge.objects.filter(expires_at__lt=now or timezone.now()).delete()[0])


# -- registration ---------------------------------------------------------------------------
def _descriptors(credentials: Any) -> list[dict[str, Any]]:
    return [
        {"type": "public-key", "id": c.credential_id, **({"transports": c.transports} if c.transports else {})}
        for c in credentials
    ]


def registration_options(user: User, request: HttpRequest) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptionsJSON` for a new key of `user`; stores its challenge."""
    from webauthn import generate_registration_options
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    rp = relying_party(request)
    existing = list(WebAuthnCredential.objects.filter(user=user))
    # One handle per account (the authenticator replaces rather than duplicates a passkey
    # of the same account); random, so it says nothing about the user.
    handle = existing[0].user_handle if existing else _b64url(secrets.token_bytes(32))
    row, challenge = _store_challenge(WebAuthnChallenge.REGISTER, rp, user=user, user_handle=handle)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=_unb64url(handle),
        user_name=user.get_username(),
        user_display_name=user.get_username(),
        challenge=challenge,
        timeout=int(api_settings.WEBAUTHN_CHALLENGE_LIFETIME.total_seconds() * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(api_settings.WEBAUTHN_RESIDENT_KEY),
            user_verification=UserVerificationRequirement(api_settings.WEBAUTHN_USER_VERIFICATION),
        ),
        supported_pub_key_algs=[COSEAlgorithmIdentifier(alg) for alg in ALGORITHMS],
    )
    public_key = options_to_json_dict(options)
    public_key["excludeCredentials"] = _descriptors(existing)
    public_key["extensions"] = {"credProps": True}
    return public_key


def register(user: User, request: HttpRequest, credential: Any, name: str) -> WebAuthnCredential:
    """Verify a registration response of `user` and store the new key; CeremonyFailed if not."""
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import WebAuthnException

    row, challenge = _consume(credential, WebAuthnChallenge.REGISTER, user=user)
    rp = relying_party(request)
    if row.rp_id != rp.id:
        raise CeremonyFailed("rp_id")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=api_settings.WEBAUTHN_USER_VERIFICATION == "required",
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyFailed("registration", _reason_detail(exc)) from None
    credential_id = _b64url(verified.credential_id)
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise CeremonyFailed("duplicate", _("This security key is already registered."))
    response = credential.get("response") or {}
    transports = [t for t in response.get("transports") or [] if isinstance(t, str)][:8]
    cred_props = (credential.get("clientExtensionResults") or {}).get("credProps") or {}
    rk = cred_props.get("rk") if isinstance(cred_props, dict) else None
    return WebAuthnCredential.objects.create(
        user=user,
        name=name or str(_("Security key")),
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=row.user_handle,
        transports=transports,
        discoverable=rk if isinstance(rk, bool) else None,
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=verified.credential_backed_up,
        aaguid=str(verified.aaguid or ""),
    )


def _reason_detail(exc: Exception) -> str | StrPromise:
    # py_webauthn's messages say what did not match (origin, RP ID, challenge...) without
    # anything secret; they help a developer wiring up WEBAUTHN_RP_ID / WEBAUTHN_ORIGINS.
    return _("The security key or passkey could not be verified: %(reason)s") % {"reason": str(exc)[:200]}


# -- assertions (passwordless login, second factor) -----------------------------------------
def assertion_options(request: HttpRequest, user: User | None = None) -> tuple[WebAuthnChallenge, dict[str, Any]]:
    """(challenge row, `PublicKeyCredentialRequestOptionsJSON`). With `user`: a second-factor
    challenge listing that user's keys; without: a passwordless one (any discoverable key)."""
    from webauthn import generate_authentication_options
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import UserVerificationRequirement

    rp = relying_party(request)
    purpose = WebAuthnChallenge.FACTOR if user is not None else WebAuthnChallenge.LOGIN
    row, challenge = _store_challenge(purpose, rp, user=user)
    # Passwordless: the key is the whole login, so the user must be verified (PIN, biometrics).
    verification = "required" if user is None else api_settings.WEBAUTHN_USER_VERIFICATION
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=int(api_settings.WEBAUTHN_CHALLENGE_LIFETIME.total_seconds() * 1000),
        user_verification=UserVerificationRequirement(verification),
    )
    public_key = options_to_json_dict(options)
    public_key["allowCredentials"] = (
        _descriptors(WebAuthnCredential.objects.filter(user=user)) if user is not None else []
    )
    return row, public_key


def check_assertion(
    request: HttpRequest, credential: Any, *, user: User | None = None, challenge_id: Any = None
) -> WebAuthnCredential:
    """The key that signed `credential` (its counter and last use recorded), after every
    check; CeremonyFailed otherwise. With `user` (second factor): the key must be one of
    that user's. Without (passwordless): the key's stored user handle must match the one
    the authenticator returned, and the user must have been verified."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import WebAuthnException

    purpose = WebAuthnChallenge.FACTOR if user is not None else WebAuthnChallenge.LOGIN
    row, challenge = _consume(credential, purpose, user=user, challenge_id=challenge_id)
    rp = relying_party(request)
    if row.rp_id != rp.id:
        raise CeremonyFailed("rp_id")
    key = _key_for(credential, user)
    if user is None:
        handle = (credential.get("response") or {}).get("userHandle")
        if _unb64url(handle) != _unb64url(key.user_handle):
            raise CeremonyFailed("user_handle")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
            require_user_verification=user is None or api_settings.WEBAUTHN_USER_VERIFICATION == "required",
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyFailed("assertion", _reason_detail(exc)) from None
    record_use(key, verified.new_sign_count, verified.credential_backed_up)
    return key


def _key_for(credential: dict[str, Any], user: User | None) -> WebAuthnCredential:
    credential_id = credential.get("id")
    if not isinstance(credential_id, str) or len(credential_id) > 1400:
        raise CeremonyFailed("malformed")
    keys = WebAuthnCredential.objects.select_related("user")
    if user is not None:
        keys = keys.filter(user=user)
    key = keys.filter(credential_id=credential_id).first()
    if key is None:
        raise CeremonyFailed("unknown_key", _("This security key or passkey is not registered for this account."))
    return key


def record_use(key: WebAuthnCredential, new_count: int, backed_up: bool) -> None:
    """Move the counter forward (compare-and-set) and note the use; of two assertions with
    one counter value, the second is refused here."""
    now = timezone.now()
    rows = WebAuthnCredential.objects.filter(pk=key.pk)
    if new_count > 0:
        rows = rows.filter(sign_count__lt=new_count)
    else:  # an authenticator without a counter (synced passkeys): nothing to compare
        rows = rows.filter(sign_count=0)
    if rows.update(sign_count=new_count, last_used_at=now, backed_up=backed_up) != 1:
        raise CeremonyFailed("counter", _("This security key reported a used signature counter (a cloned key?)."))
    key.sign_count, key.last_used_at, key.backed_up = new_count, now, backed_up


def remove(key: WebAuthnCredential) -> None:
    WebAuthnCredential.objects.filter(pk=key.pk).delete()
