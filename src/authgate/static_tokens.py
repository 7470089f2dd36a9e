"""
Static API tokens (`Authorization: Token <key>`): DRF's TokenAuthentication, done safely.

Keys are 256-bit random values shown once; only a keyed hash (HMAC-SHA256 under
SECRET_KEY) is stored, so a copy of the database lets nobody authenticate. A fast hash is
right here (not a password hasher): the key has full entropy, nothing to brute-force.
"""
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import StaticToken
from .settings import api_settings
from .tokens import TokenError

KEY_PREFIX = "ag_"
MAX_KEY_LENGTH = 200


def generate_key():
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key):
    return salted_hmac("authgate.static-token", key, algorithm="sha256").hexdigest()


def create_token(user, name="", expires_in=None, key=None):
    """Create a token for `user`; returns (StaticToken, key). The key is not kept anywhere."""
    key = key or generate_key()
    expires_at = timezone.now() + timedelta(seconds=expires_in) if expires_in else None
    token = StaticToken.objects.create(
        user=user, name=name or "", digest=digest(key), prefix=key[:8], expires_at=expires_at
    )
    return token, key


def authenticate_key(key):
    """The StaticToken for `key` if usable, else TokenError."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise TokenError("malformed", "Invalid token.")
    token = StaticToken.objects.select_related("user").filter(digest=digest(key)).first()
    if token is None:
        raise TokenError("revoked", "Invalid token.")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("expired", "Token has expired.")
    if not token.user.is_active:
        raise TokenError("user_inactive", "User is inactive.")
    interval = api_settings.LAST_USED_UPDATE_INTERVAL
    if token.last_used_at is None or now - token.last_used_at >= interval:
        StaticToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(token):
    token.delete()


def delete_all():
    count, _ = StaticToken.objects.all().delete()
    return count


def purge_expired(now=None):
    now = now or timezone.now()
    count, _ = StaticToken.objects.filter(Q(expires_at__lt=now)).delete()
    return count
