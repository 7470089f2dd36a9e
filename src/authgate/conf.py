"""
authgate's settings: defaults, overridden by the project's `AUTHGATE = {...}` dict.

Use `from authgate.conf import api_settings` (or the older `authgate.settings`) and read
attributes (`api_settings.ACCESS_TOKEN_LIFETIME`). Names follow djangorestframework-simplejwt
where the meaning is the same, so moving from `SIMPLE_JWT` is a rename.

Invariants:
- One object, `api_settings`, an instance of DRF's `APISettings` pattern (as simplejwt's):
  `DEFAULTS`, `IMPORT_STRINGS` (resolved to classes), `REMOVED_SETTINGS` (each refused
  with what to do instead). Each setting is typed on the class, so code reading it is checked.
- Every key of `AUTHGATE` is a key of `DEFAULTS`, and every key of a nested dict setting
  (`LOGIN_THROTTLE`, `MAIL_THROTTLE`) one of its default's keys: anything else — a
  misspelling — is `ImproperlyConfigured`, naming the key and the closest known name. It is
  checked when the app is ready and whenever the settings are read after a reload.
- Durations accept a `timedelta` or a number of seconds. A nested dict setting is the
  project's keys over the defaults' keys (a key left out keeps its default).
- A value is computed once, then read as a plain attribute; the object reloads itself (the
  same object: modules hold it by reference) when `AUTHGATE`, `SECRET_KEY` or `DEBUG`
  changes (Django's `setting_changed`, as `override_settings` sends).
- This module imports no other authgate module: every other module may import it.
"""

import difflib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from rest_framework.settings import APISettings as _APISettings

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
    # Refuse a username that looks like another account's (the same Unicode TR39 skeleton:
    # `secadmın` beside `secadmin`), at registration and on a rename: 400 on the username.
    "REFUSE_CONFUSABLE_USERNAMES": True,
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


# Dict settings merged key by key over their default.
NESTED = frozenset({"LOGIN_THROTTLE", "MAIL_THROTTLE"})

# Names a project may carry over (from `SIMPLE_JWT`) that authgate does not have, each with
# what to do instead.
REMOVED_SETTINGS: dict[str, str] = {
    "BLACKLIST_AFTER_ROTATION": "a spent refresh token is always refused (reuse detection)",
    "UPDATE_LAST_LOGIN": "login always updates last_login (Django's user_logged_in)",
    "JWK_URL": "authgate publishes its own JWKS (.well-known/jwks.json)",
    "AUTH_HEADER_NAME": "the Authorization header is read, or the access cookie in cookie mode",
    "USER_ID_FIELD": "tokens carry the user's primary key in `sub`",
    "USER_ID_CLAIM": "tokens carry the user's primary key in `sub`",
    "USER_AUTHENTICATION_RULE": "an inactive user is always refused",
    "CHECK_USER_IS_ACTIVE": "an inactive user is always refused",
    "CHECK_REVOKE_TOKEN": "a password change ends the user's other sessions",
    "REVOKE_TOKEN_CLAIM": "a password change ends the user's other sessions",
    "TOKEN_OBTAIN_SERIALIZER": "use LOGIN_SERIALIZER",
    "TOKEN_REFRESH_SERIALIZER": "the refresh endpoint's shape is fixed",
    "TOKEN_VERIFY_SERIALIZER": "the verify endpoint's shape is fixed",
    "TOKEN_BLACKLIST_SERIALIZER": "logout ends the session",
    "AUTH_TOKEN_CLASSES": "authgate's tokens are always its access tokens",
    "TOKEN_TYPE_CLAIM": "the token type claim is fixed",
    "JTI_CLAIM": "tokens name their session in `sid`",
    "TOKEN_USER_CLASS": "the user is the project's user model",
    **dict.fromkeys(
        (
            "SLIDING_TOKEN_LIFETIME",
            "SLIDING_TOKEN_REFRESH_LIFETIME",
            "SLIDING_TOKEN_REFRESH_EXP_CLAIM",
            "SLIDING_TOKEN_OBTAIN_SERIALIZER",
            "SLIDING_TOKEN_REFRESH_SERIALIZER",
        ),
        "no sliding tokens: use the refresh token",
    ),
}
SETTINGS_DOC = "the Settings page of the docs"


def _unknown(where: str, name: object, known: Sequence[str]) -> ImproperlyConfigured:
    message = f"{where} has an unknown key {name!r}"
    close = difflib.get_close_matches(str(name), known, n=1)
    if close:
        message += f": did you mean {close[0]!r}?"
    return ImproperlyConfigured(f"{message} (every setting is on {SETTINGS_DOC})")


def _duration(name: str, value: Any) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    try:
        return timedelta(seconds=float(value))
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"AUTHGATE[{name!r}] must be a timedelta or seconds") from exc


class APISettings(_APISettings):
    """Attribute access to the AUTHGATE settings: the project's value, else the default;
    computed once, until `reload()`."""

    ACCESS_TOKEN_LIFETIME: timedelta
    REFRESH_TOKEN_LIFETIME: timedelta
    SESSION_MAX_AGE: timedelta
    ROTATE_REFRESH_TOKENS: bool
    REFRESH_RETRY_WINDOW: timedelta
    ALGORITHM: str
    SIGNING_KEY: str | None
    VERIFYING_KEY: str | None
    VERIFYING_KEYS: Mapping[str, str]
    SIGNING_KEY_ID: str | None
    SIGNING_KEY_FILE: str | None
    SIGNING_KEYS_DIR: str | None
    SIGNING_KEYS_CHECK_INTERVAL: timedelta
    JWKS_MAX_AGE: timedelta
    ISSUER: str | None
    AUDIENCE: str | None
    LEEWAY: timedelta
    AUTH_HEADER_TYPES: Sequence[str]
    STATIC_TOKEN_HEADER_TYPE: str
    AUTHENTICATED_PATH_PREFIXES: Sequence[str]
    ACCESS_COOKIE_NAME: str
    REFRESH_COOKIE_NAME: str
    COOKIE_DOMAIN: str | None
    COOKIE_SECURE: bool | None
    COOKIE_SAMESITE: str
    ACCESS_COOKIE_PATH: str
    REFRESH_COOKIE_PATH: str
    LOGIN_THROTTLE: dict[str, str]
    THROTTLE_CACHE: str
    CLIENT_IP_HEADER: str | None
    LAST_USED_UPDATE_INTERVAL: timedelta
    REDIS_URL: str | None
    REDIS_KEY_PREFIX: str
    REDIS_SENTINELS: Sequence[str]
    REDIS_SENTINEL_MASTER: str
    REVOCATION_STORE: type | None
    SESSION_CACHE_SIZE: int
    SESSION_CACHE_TTL: timedelta
    TOKEN_CACHE_SIZE: int
    LISTEN_DATABASE_URL: str | None
    ACTIVITY_TRAIL: bool
    ACTIVITY_RETENTION: timedelta | None
    METRICS_ALLOWED_IPS: Sequence[str]
    PASSWORD_RESET_URL: str
    EMAIL_VERIFY_URL: str
    LINK_ORIGINS: Sequence[str]
    REFUSE_CONFUSABLE_USERNAMES: bool
    REQUIRE_EMAIL_VERIFICATION: bool
    MAIL_THROTTLE: dict[str, str]
    SEND_MAIL_IN_BACKGROUND: bool
    SIMPLEJWT_MIGRATION: Mapping[str, Any]
    MFA_PROVIDERS: Sequence[str | type]
    MFA_ENCRYPTION_KEYS: Sequence[str] | None
    TOTP_ISSUER: str | None
    MFA_TOKEN_LIFETIME: timedelta
    REAUTH_WINDOW: timedelta
    WEBAUTHN_RP_ID: str | None
    WEBAUTHN_ORIGINS: Sequence[str] | str | None
    WEBAUTHN_RP_NAME: str | None
    WEBAUTHN_CHALLENGE_LIFETIME: timedelta
    WEBAUTHN_RESIDENT_KEY: str
    WEBAUTHN_USER_VERIFICATION: str
    LOGIN_SERIALIZER: type
    REGISTER_SERIALIZER: type
    USER_SERIALIZER: type

    def __init__(self) -> None:
        # The project's dict is read lazily (`user_settings`): settings may not be configured yet.
        super().__init__(None, DEFAULTS, tuple(IMPORT_STRINGS))  # type: ignore[arg-type]

    @property
    def user_settings(self) -> dict[str, Any]:
        if not hasattr(self, "_user_settings"):
            own = getattr(settings, "AUTHGATE", None) or {}
            self._user_settings = self.__check_user_settings(own)
        return self._user_settings

    def __check_user_settings(self, user_settings: Mapping[str, Any]) -> dict[str, Any]:
        """The project's dict, if every key is known (else ImproperlyConfigured)."""
        known = list(DEFAULTS)
        for name in user_settings:
            if name in DEFAULTS:
                continue
            if name in REMOVED_SETTINGS:
                raise ImproperlyConfigured(f"AUTHGATE[{name!r}] is not an authgate setting: {REMOVED_SETTINGS[name]}.")
            raise _unknown("AUTHGATE", name, known)
        for name in NESTED & set(user_settings):
            value = user_settings[name] or {}
            if not isinstance(value, Mapping):
                raise ImproperlyConfigured(f"AUTHGATE[{name!r}] must be a dict")
            own_keys = list(DEFAULTS[name])
            for key in value:
                if key not in own_keys:
                    raise _unknown(f"AUTHGATE[{name!r}]", key, own_keys)
        return dict(user_settings)

    def check(self) -> None:
        """Raise ImproperlyConfigured now if the project's dict has a key authgate does not know."""
        self.user_settings  # noqa: B018  (reading it checks it)

    def __getattr__(self, attr: str) -> Any:
        value = super().__getattr__(attr)  # the project's, else the default; imports resolved
        if attr in DURATIONS:
            value = _duration(attr, value)
        elif attr in NESTED:
            value = {**DEFAULTS[attr], **(value or {})}
        setattr(self, attr, value)
        return value


api_settings = APISettings()


# Settings that other modules build state from. Each module that caches such state (the
# token codec, the revocation store...) connects its own `setting_changed` receiver and
# tests the setting name against this set; this module imports none of them.
RELOADING_SETTINGS = frozenset({"AUTHGATE", "SECRET_KEY", "DEBUG"})


def _reload_api_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS:
        api_settings.reload()


setting_changed.connect(_reload_api_settings)
