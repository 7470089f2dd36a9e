"""
Static API tokens (`Authorization: Token <key>`): DRF's TokenAuthentication,
done safely. Used by StaticTokenAuthentication, the token views, the admin and the
`import_drf_tokens` command.

Keys are 256-bit random values shown once; only a keyed hash (HMAC-SHA256 under
SECRET_KEY) is stored, so a copy of the database lets nobody authenticate. A fast hash is
right here (not a password hasher): the key has full entropy, nothing to brute-force, and
the lookup is one indexed equality on the digest. Keys hashed under a key listed in
SECRET_KEY_FALLBACKS keep working and are re-hashed under the current SECRET_KEY on use,
so rotating SECRET_KEY the Django way does not cut off every script.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from django.db.models import QuerySet
from django.http import HttpRequest

from . import activity
from .models import Activity, StaticToken
from .conf import api_settings
from .errors import TokenExpired, TokenMalformed, TokenRevoked, UserInactive
from .types import User

KEY_PREFIX = "ag_"
MAX_KEY_LENGTH = 200
_SALT = "authgate.static-token"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str, secret: str | bytes | None = None) -> str:
    return salted_hmac(_SALT, key, secret=secret, algorithm="sha256").hexdigest()


def _candidate_digests(key: str) -> list[str]:
    """The key's digest under SECRET_KEY, then under each SECRET_KEY_FALLBACKS entry."""
    return [digest(key)] + [digest(key, old) for old in getattr(settings, "SECRET_KEY_FALLBACKS", ())]


def create_token(
    user: User,
    name: str = "",
    expires_in: float | None = None,
    key: str | None = None,
    created_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[StaticToken, str]:
    """Create a token for `user`; returns (StaticToken, key). The key is not kept anywhere.
    `request` (if any) gives the activity trail its IP and user agent."""
    key = key or generate_key()
    now = timezone.now()
    expires_at = now + timedelta(seconds=expires_in) if expires_in else None
    token = StaticToken.objects.create(
        user=user,
        name=name or "",
        digest=digest(key),
        prefix=key[:8],
        created_at=created_at or now,
        expires_at=expires_at,
    )
    activity.record(Activity.STATIC_TOKEN_CREATED, user=user, request=request, token_id=token.pk, name=token.name)
    return token, key


def authenticate_key(key: str | None) -> StaticToken:
    """The StaticToken for `key` if usable, else TokenError (its reason as for JWTs)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise TokenMalformed(_("Invalid token."))
    candidates = _candidate_digests(key)
    token = StaticToken.objects.select_related("user").filter(digest__in=candidates).first()
    if token is None:
        raise TokenRevoked(_("Invalid token."))
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenExpired()
    if not token.user.is_active:
        raise UserInactive()
    changes: dict[str, object] = {}
    if token.digest != candidates[0]:
        changes["digest"] = candidates[0]  # hashed under a retired SECRET_KEY: re-key it
    interval = api_settings.LAST_USED_UPDATE_INTERVAL
    if token.last_used_at is None or now - token.last_used_at >= interval:
        changes["last_used_at"] = now  # at most one write per interval, not one per request
    if changes:
        StaticToken.objects.filter(pk=token.pk).update(**changes)
        for field, value in changes.items():
            setattr(token, field, value)
    return token


def revoke(token: StaticToken, request: HttpRequest | None = None) -> None:
    """Delete `token`: the lookup is by digest on every request, so it fails at once."""
    token_id = token.pk
    token.delete()
    activity.record(Activity.STATIC_TOKEN_REVOKED, user=token.user, request=request, token_id=token_id, name=token.name)


def _delete(queryset: QuerySet[StaticToken]) -> int:
    tokens = activity.token_rows(queryset)
    count, _ = queryset.delete()
    activity.record_tokens_revoked(tokens)
    return count


def delete_user_tokens(user: User) -> int:
    return _delete(StaticToken.objects.filter(user=user))


def delete_all() -> int:
    return _delete(StaticToken.objects.all())


def purge_expired(now: datetime | None = None) -> int:
    count, _ = StaticToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return count
