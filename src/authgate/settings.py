"""
authgate's settings: defaults, overridden by the project's `AUTHGATE = {...}` dict.

Use `from authgate.settings import api_settings` and read attributes
(`api_settings.ACCESS_TOKEN_LIFETIME`). Names follow djangorestframework-simplejwt where
the meaning is the same, so moving from `SIMPLE_JWT` is a rename. Durations accept a
`timedelta` or a number of seconds. The object reloads itself when a test overrides
`AUTHGATE` (Django's `setting_changed` signal).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "SESSION_MAX_AGE": timedelta(days=30),
    "ROTATE_REFRESH_TOKENS": True,
    "REFRESH_RETRY_WINDOW": timedelta(seconds=10),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": None,  # None: settings.SECRET_KEY
    "VERIFYING_KEY": None,  # for asymmetric algorithms
    "VERIFYING_KEYS": {},  # extra {kid: key} accepted while rotating keys
    "SIGNING_KEY_ID": None,  # the `kid` header of new tokens (asymmetric: default RFC 7638 thumbprint)
    # RS256/EdDSA private key from a PEM file, or from a keys directory maintained by
    # `manage.py rotate_signing_key` (current.pem, next.pem, previous/*.pem).
    "SIGNING_KEY_FILE": None,
    "SIGNING_KEYS_DIR": None,
    # How often a process looks whether the keys directory was rotated (a stat call).
    "SIGNING_KEYS_CHECK_INTERVAL": timedelta(seconds=10),
    # Cache-Control max-age of the JWKS document.
    "JWKS_MAX_AGE": timedelta(minutes=5),
    "ISSUER": None,
    "AUDIENCE": None,
    "LEEWAY": timedelta(seconds=5),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "STATIC_TOKEN_HEADER_TYPE": "Token",
    # Paths that `authgate.plain.JWTAuthenticationMiddleware` authenticates (plain views).
    "AUTHENTICATED_PATH_PREFIXES": (),
    # Cookie mode.
    "ACCESS_COOKIE_NAME": "authgate_access",
    "REFRESH_COOKIE_NAME": "authgate_refresh",
    "COOKIE_DOMAIN": None,
    "COOKIE_SECURE": None,  # None: secure unless DEBUG
    "COOKIE_SAMESITE": "Lax",
    "ACCESS_COOKIE_PATH": "/",
    "REFRESH_COOKIE_PATH": "/api/auth/",
    # Failed-login throttle: failures per (username, IP) and per IP; a success resets
    # the (username, IP) count.
    "LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"},
    "THROTTLE_CACHE": "default",
    # Which request header holds the client IP (None: REMOTE_ADDR). Set to e.g.
    # "HTTP_X_FORWARDED_FOR" only behind a proxy that overwrites it.
    "CLIENT_IP_HEADER": None,
    # Don't write `last_used_at` more often than this (a write per request is waste).
    "LAST_USED_UPDATE_INTERVAL": timedelta(seconds=60),
    "REDIS_URL": None,
    "REDIS_KEY_PREFIX": "authgate",
    # Redis behind Sentinel: the sentinels ("host:port" each) and the name of the primary they
    # monitor. Set, they choose the primary for publish and subscribe (REDIS_URL then gives
    # only the database number and the credentials). See docs/deployment-scaling.md.
    "REDIS_SENTINELS": (),
    "REDIS_SENTINEL_MASTER": "",
    # None: a per-process session cache kept true by Redis pub/sub (REDIS_URL), PostgreSQL
    # LISTEN/NOTIFY or, on SQLite, a shared file; "authgate.revocation.DatabaseRevocationStore":
    # no cache, one query per request. See docs/deployment-scaling.md.
    "REVOCATION_STORE": None,
    "SESSION_CACHE_SIZE": 10000,  # live sessions remembered per process (0: no cache)
    "SESSION_CACHE_TTL": timedelta(seconds=30),  # an entry is re-read from the database after this
    "TOKEN_CACHE_SIZE": 4096,  # verified access tokens remembered per process (0: none)
    # PostgreSQL: where the LISTEN connection goes when DATABASES points at a transaction-
    # pooling proxy (PgBouncer): a direct libpq URL/conninfo. None: the database's own settings.
    "LISTEN_DATABASE_URL": None,
    # The security activity trail: written at all (False: events are only counted in the
    # metrics), and how long its rows are kept by `authgate_cleanup` (None: for ever).
    "ACTIVITY_TRAIL": True,
    "ACTIVITY_RETENTION": timedelta(days=90),
    # Who may read GET /metrics: addresses or networks (CIDR). Loopback only by default.
    "METRICS_ALLOWED_IPS": ("127.0.0.1/8", "::1"),
    # Account recovery and verification. The links of the mails: {uid} and {token} are
    # filled in; a relative URL is made absolute on the origin the request came to (its
    # host checked against ALLOWED_HOSTS). The defaults open the account page.
    "PASSWORD_RESET_URL": "/?action=reset-password&uid={uid}&token={token}",
    "EMAIL_VERIFY_URL": "/?action=verify-email&uid={uid}&token={token}",
    # The origins ("https://auth.example.com") relative links of the mails may be made
    # absolute on: the request's own when listed, else the first. Empty: the request's origin,
    # which outside DEBUG must be a host named in ALLOWED_HOSTS on its scheme's default
    # port, or loopback (authgate.links).
    "LINK_ORIGINS": (),
    # Refuse login (403 `email_unverified`, after the right password) until the address is verified.
    "REQUIRE_EMAIL_VERIFICATION": False,
    # Mails asked for (reset, verification resend, email change): per address and per IP.
    "MAIL_THROTTLE": {"EMAIL": "5/1h", "IP": "20/1h"},
    # Hand mails to a background thread, so that the answer takes the same time whether or
    # not a mail is sent (no enumeration through timing) and no request waits on SMTP.
    "SEND_MAIL_IN_BACKGROUND": True,
    # The API's request/response shapes for login, registration and the account (import
    # strings or classes; subclass the defaults in authgate.serializers).
    # Moving over from djangorestframework-simplejwt: exchange a simplejwt refresh token,
    # once, for an authgate session at the refresh endpoint, until UNTIL (a datetime or a
    # date). Other keys (SIGNING_KEY, ALGORITHM, USER_ID_CLAIM...) default to SIMPLE_JWT's.
    "SIMPLEJWT_MIGRATION": {"ENABLED": False, "UNTIL": None},
    # Second factors. The providers asked, in order (import strings of
    # authgate.mfa.providers.FactorProvider subclasses; more can be added with register()).
    "MFA_PROVIDERS": (
        "authgate.mfa.totp.TOTPProvider",
        "authgate.mfa.recovery_codes.RecoveryCodeProvider",
        "authgate.mfa.webauthn.provider.WebAuthnProvider",
    ),
    # Fernet keys (urlsafe base64, 32 bytes) that encrypt TOTP secrets at rest: the first
    # encrypts, all decrypt (rotation). None: one key derived from SECRET_KEY (HKDF) — set
    # this in production, or rotating SECRET_KEY makes every enrolled authenticator unreadable.
    "MFA_ENCRYPTION_KEYS": None,
    # The issuer shown by authenticator apps (the otpauth:// URI); None: the request's host.
    "TOTP_ISSUER": None,
    # How long the `mfa_token` of a pending login lives.
    "MFA_TOKEN_LIFETIME": timedelta(minutes=5),
    # Sensitive actions need a second-factor proof on the session within this window.
    "REAUTH_WINDOW": timedelta(minutes=5),
    # WebAuthn (security keys and passkeys). The relying party ID: None, the request's host
    # name; set it to the registrable domain the keys belong to (e.g. "example.com") when the
    # API and the pages that call it have different host names. The origins allowed in a
    # response (a list or comma-separated string; None: the request's own origin).
    "WEBAUTHN_RP_ID": None,
    "WEBAUTHN_ORIGINS": None,
    "WEBAUTHN_RP_NAME": None,  # shown by the browser's prompt; None: the RP ID
    "WEBAUTHN_CHALLENGE_LIFETIME": timedelta(minutes=5),
    # Ask authenticators for a discoverable credential (a passkey) and for user verification:
    # "required", "preferred" or "discouraged". Passwordless login always requires verification.
    "WEBAUTHN_RESIDENT_KEY": "preferred",
    "WEBAUTHN_USER_VERIFICATION": "preferred",
    "LOGIN_SERIALIZER": "authgate.serializers.LoginSerializer",
    "REGISTER_SERIALIZER": "authgate.serializers.RegisterSerializer",
    "USER_SERIALIZER": "authgate.serializers.UserSerializer",
}

DURATIONS = {
    "ACCESS_TOKEN_LIFETIME",
    "REFRESH_TOKEN_LIFETIME",
    "SESSION_MAX_AGE",
    "REFRESH_RETRY_WINDOW",
    "LEEWAY",
    "LAST_USED_UPDATE_INTERVAL",
    "SIGNING_KEYS_CHECK_INTERVAL",
    "JWKS_MAX_AGE",
    "ACTIVITY_RETENTION",
    "SESSION_CACHE_TTL",
    "MFA_TOKEN_LIFETIME",
    "REAUTH_WINDOW",
    "WEBAUTHN_CHALLENGE_LIFETIME",
}
IMPORT_STRINGS = {"REVOCATION_STORE", "LOGIN_SERIALIZER", "REGISTER_SERIALIZER", "USER_SERIALIZER"}


class APISettings:
    """Attribute access to AUTHGATE settings with defaults; cached until reload()."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "AUTHGATE", {}) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"Invalid authgate setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        value = self.user_settings.get(name, self.defaults[name])
        if name in DURATIONS and value is not None and not isinstance(value, timedelta):
            try:
                value = timedelta(seconds=float(value))
            except (TypeError, ValueError) as exc:
                raise ImproperlyConfigured(f"AUTHGATE[{name!r}] must be a timedelta or seconds") from exc
        if name in {"LOGIN_THROTTLE", "MAIL_THROTTLE"}:
            value = {**DEFAULTS[name], **(value or {})}
        if name in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


api_settings = APISettings()


# Settings that other modules build state from. Each module that caches such state (the
# token codec, the revocation store...) connects its own `setting_changed` receiver and
# tests the setting name against this set; this module imports none of them.
RELOADING_SETTINGS = frozenset({"AUTHGATE", "SECRET_KEY", "DEBUG"})


def _reload_api_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS:
        api_settings.reload()


setting_changed.connect(_reload_api_settings)
