"""
Moving over from djangorestframework-simplejwt without logging anyone out.

While `AUTHGATE["SIMPLEJWT_MIGRATION"]` is enabled and its end date (`UNTIL`) is ahead, a
valid simplejwt *refresh* token presented to authgate's refresh endpoint is exchanged,
once, for a new authgate session: the answer is an authgate pair, exactly as a refresh
of an authgate token answers, so clients notice nothing. The token must verify with the
key simplejwt signed it with, be unexpired, name an active user, and not be blacklisted
in simplejwt's own tables (when `rest_framework_simplejwt.token_blacklist` is installed),
not be issued before the user last signed out everywhere (a password change or reset,
logout everywhere, an admin's logout, invalidate-all: `authgate.cutoffs`), and pass every
rule a login passes (`apply_login_rules`: a verified address under
REQUIRE_EMAIL_VERIFICATION);
its `jti` is then recorded (`MigratedToken`), so a second exchange of the same token is
refused, and it is blacklisted in simplejwt's tables too when they exist.

simplejwt's settings are read from the project's `SIMPLE_JWT` dict when it is still
there; a key in `SIMPLEJWT_MIGRATION` overrides it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import cutoffs, recovery, sessions
from .factors import gate, registry
from .models import MigratedToken
from .net import client_ip
from .conf import api_settings
from .errors import TokenExpired, TokenMalformed, TokenRevoked, TokenWrongType, UserInactive
from .types import User

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Session
    from .tokens import TokenPair

logger = logging.getLogger("authgate.simplejwt_migration")

BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"
# simplejwt's own defaults, for the keys neither SIMPLEJWT_MIGRATION nor SIMPLE_JWT sets.
SIMPLEJWT_DEFAULTS: dict[str, Any] = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": None,  # None: SECRET_KEY, as simplejwt
    "VERIFYING_KEY": None,
    "AUDIENCE": None,
    "ISSUER": None,
    "LEEWAY": 0,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "CHECK_REVOKE_TOKEN": False,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}
REFUSED = _("Token is invalid or expired.")


class MigrationSettings:
    """The exchange's settings: SIMPLEJWT_MIGRATION, else SIMPLE_JWT, else simplejwt's defaults."""

    def __init__(self) -> None:
        own = dict(api_settings.SIMPLEJWT_MIGRATION or {})
        legacy = getattr(django_settings, "SIMPLE_JWT", None) or {}
        self.enabled = bool(own.get("ENABLED", False))
        self.until = _until_datetime(own.get("UNTIL"))
        if self.enabled and self.until is None:
            raise ImproperlyConfigured('AUTHGATE["SIMPLEJWT_MIGRATION"] needs an end date: "UNTIL".')
        values = {name: own.get(name, legacy.get(name, default)) for name, default in SIMPLEJWT_DEFAULTS.items()}
        self.algorithm: str = values["ALGORITHM"]
        signing_key = values["SIGNING_KEY"] or django_settings.SECRET_KEY
        # HMAC verifies with the secret; RS/ES/EdDSA with the public key.
        self.key = signing_key if self.algorithm.startswith("HS") else (values["VERIFYING_KEY"] or signing_key)
        self.audience = values["AUDIENCE"]
        self.issuer = values["ISSUER"]
        leeway = values["LEEWAY"]
        self.leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway or 0)
        self.user_id_field: str = values["USER_ID_FIELD"]
        self.user_id_claim: str = values["USER_ID_CLAIM"]
        self.token_type_claim: str = values["TOKEN_TYPE_CLAIM"]
        self.jti_claim: str = values["JTI_CLAIM"]
        self.check_revoke_token = bool(values["CHECK_REVOKE_TOKEN"])
        self.revoke_token_claim: str = values["REVOKE_TOKEN_CLAIM"]

    def active(self, now: datetime | None = None) -> bool:
        return self.enabled and self.until is not None and (now or timezone.now()) < self.until


def _until_datetime(value: object) -> datetime | None:
    """UNTIL: an aware datetime; a naive one is in the current time zone; a date means
    up to the end of that day (UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.make_aware(value) if timezone.is_naive(value) else value
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)
    raise ImproperlyConfigured('AUTHGATE["SIMPLEJWT_MIGRATION"]["UNTIL"] must be a datetime or a date.')


def is_active() -> bool:
    """Whether simplejwt tokens are exchanged right now."""
    return MigrationSettings().active()


def looks_like_simplejwt(raw: str) -> bool:
    """True for a JWT that carries simplejwt's claims and not authgate's (unverified: only
    to choose which verification to run)."""
    conf = MigrationSettings()
    try:
        payload = jwt.decode(raw, options={"verify_signature": False})
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return False
    return isinstance(payload, dict) and conf.token_type_claim in payload and "sid" not in payload


def exchange(raw: str, *, request: HttpRequest | None = None) -> tuple[Session, TokenPair]:
    """Spend a simplejwt refresh token for a new authgate session; TokenError if it cannot be."""
    conf = MigrationSettings()
    if not conf.active():
        raise TokenExpired(_("simplejwt tokens are no longer accepted: log in again."))
    claims = _verified_claims(raw, conf)
    user = _user_for(claims, conf)
    jti = str(claims[conf.jti_claim])
    if _blacklisted(jti):
        raise TokenRevoked()
    if cutoffs.issued_before_cutoff(user, claims.get("iat")):
        raise TokenRevoked(_("Token was issued before the account last signed out everywhere."))
    apply_login_rules(user, request)
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    if registry.has_factor(user):
        # A second factor since the simplejwt login: the token is spent, and what it buys is
        # the second step of a login (403 `mfa_required`), as a password would.
        try:
            with transaction.atomic():
                MigratedToken.objects.create(jti=jti, user=user, expires_at=expires_at)
                _blacklist(jti, user, raw, expires_at)
        except IntegrityError:
            raise TokenRevoked(_("Token has already been exchanged.")) from None
        gate.require_second_factor(user, request)
    try:
        with transaction.atomic():
            record = MigratedToken.objects.create(jti=jti, user=user, expires_at=expires_at)
            session, pair = sessions.open_session(
                user,
                device="",
                ip=_client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "") if request is not None else "",
                request=request,
            )
            record.session_id = session.pk
            record.save(update_fields=["session"])
            _blacklist(jti, user, raw, expires_at)
    except IntegrityError:
        raise TokenRevoked(_("Token has already been exchanged.")) from None
    logger.info("simplejwt refresh token %s exchanged for session %s.", jti, session.pk)
    return session, pair


def apply_login_rules(user: User, request: HttpRequest | None) -> None:
    """What a login checks once the password was right, checked before the exchange opens a
    session (the user is known active by now): an unverified address under
    REQUIRE_EMAIL_VERIFICATION is refused (403 `email_unverified`, the token stays
    unspent). A second factor is asked for right after, in `exchange()`: that answer spends
    the token first (its second step is `mfa/verify/`)."""
    recovery.require_verified_email(user)


def _verified_claims(raw: str, conf: MigrationSettings) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            raw,
            conf.key,
            algorithms=[conf.algorithm],
            audience=conf.audience,
            issuer=conf.issuer,
            leeway=conf.leeway,
            options={"require": ["exp", conf.token_type_claim, conf.jti_claim, conf.user_id_claim]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenMalformed(REFUSED) from None
    if claims.get(conf.token_type_claim) != "refresh":
        raise TokenWrongType(_("Token has wrong type: expected a refresh token."))
    return claims


def _user_for(claims: dict[str, Any], conf: MigrationSettings) -> Any:
    user_model = get_user_model()
    try:
        user = user_model._default_manager.get(**{conf.user_id_field: claims[conf.user_id_claim]})
    except (user_model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise TokenMalformed(REFUSED) from None
    if not user.is_active:
        raise UserInactive()
    if conf.check_revoke_token and conf.revoke_token_claim in claims:
        from rest_framework_simplejwt.utils import get_md5_hash_password

        if claims[conf.revoke_token_claim] != get_md5_hash_password(user.password):
            raise TokenRevoked(_("The user's password has been changed."))
    return user


def _blacklisted(jti: str) -> bool:
    """simplejwt's own blacklist, when its app is installed."""
    if not apps.is_installed(BLACKLIST_APP):
        return False
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    return BlacklistedToken.objects.filter(token__jti=jti).exists()


def _blacklist(jti: str, user: User, raw: str, expires_at: datetime) -> None:
    """Spent for simplejwt too, should its endpoints still be mounted."""
    if not apps.is_installed(BLACKLIST_APP):
        return
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    outstanding, _created = OutstandingToken.objects.get_or_create(
        jti=jti, defaults={"user": user, "token": raw, "expires_at": expires_at}
    )
    BlacklistedToken.objects.get_or_create(token=outstanding)


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request) or None
