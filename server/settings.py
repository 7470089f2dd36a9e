"""
Settings of the ready-to-run authgate service, read from the environment (12-factor).

Every value a deployment changes comes from an environment variable; the defaults give
the embedded SQLite demo that `make run` serves. See docs/settings.md and docs/deployment.md.
"""

import json
import os
import sys
from datetime import timedelta
from typing import Any
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AUTHGATE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

_DEV_SECRET = "authgate-dev-insecure-secret-key-change-me-0123456789abcdef"
SECRET_KEY = os.environ.get("SECRET_KEY") or _DEV_SECRET
# Said loudly at start-up through the configured logging (server/apps.py), so that with
# LOG_FORMAT=json they are JSON lines like everything else.
STARTUP_WARNINGS = []
if SECRET_KEY == _DEV_SECRET and not DEBUG and "pytest" not in sys.modules:
    STARTUP_WARNINGS.append(
        "SECRET_KEY is not set: using the built-in development key. Anyone can forge tokens "
        "for this server. Set SECRET_KEY for anything but the local SQLite demo."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# CORS (django-cors-headers) is off unless origins are listed: no foreign page may read
# API answers. CORS_ALLOW_CREDENTIALS lets those origins use cookie mode as well.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_CREDENTIALS = env_bool("CORS_ALLOW_CREDENTIALS")
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by this service: no CDN
    "corsheaders",
    "authgate",
    "server.apps.ServerConfig",
]

MIDDLEWARE = [
    # First, so that preflight answers and CORS headers are added to every response.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "authgate.security.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "authgate.middleware.DatabaseUnavailableMiddleware",
    # Sessions, session authentication and messages serve the admin and the account page
    # only: the API's routes skip them (server/middleware.py).
    "server.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "server.middleware.BrowserAuthenticationMiddleware",
    # A Django login session (the admin's) ends when its account is signed out everywhere.
    "authgate.login_sessions.SignedOutEverywhereMiddleware",
    "server.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "server.urls"
WSGI_APPLICATION = "server.wsgi.application"
ASGI_APPLICATION = "server.asgi.application"
# SERVER=asgi (gunicorn with uvicorn workers): each request's synchronous part runs on a
# thread of its own, so a connection kept past the request would be kept by no one.
SERVER = os.environ.get("SERVER", "wsgi").strip().lower()

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'authgate.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0" if SERVER == "asgi" else "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets gunicorn workers read while one writes; IMMEDIATE transactions take the
    # write lock up front, so concurrent refreshes queue instead of failing with
    # "database is locked" on a lock upgrade. Connections persist (CONN_MAX_AGE) like on
    # PostgreSQL: opening one per request (with its PRAGMAs) cost more than the query.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-authgate.sqlite3")}
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # Django's backend with a health check that looks at the socket instead of sending
    # `SELECT 1` before every request's first query (docs/deployment-scaling.md).
    DATABASES["default"]["ENGINE"] = "authgate.db.postgresql"
    # An unreachable database must fail fast (a JSON 503), not hang until the worker is killed.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis behind Sentinel (comma list of host:port, and the monitored primary's name): the
# session cache's bus follows the primary through failovers. Django's cache stays in the
# database then (its Redis backend cannot follow a failover).
REDIS_SENTINELS = env_list("REDIS_SENTINELS", [])
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "")

if REDIS_URL and not REDIS_SENTINELS:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # The login throttle must count across gunicorn workers: a database cache does.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "authgate_cache",
        }
    }

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = ["authgate.backends.UsernameOrEmailBackend"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the apps' static folders too, so tests and DEBUG need no collectstatic.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "authgate.authentication.JWTSessionAuthentication",
        "authgate.authentication.StaticTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["authgate.security.JSONParser"],  # DRF's, without a 500 on deep nesting
    "EXCEPTION_HANDLER": "authgate.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "authgate",
    "DESCRIPTION": "JWT authentication for Django REST Framework in which logout really logs out.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ loads Swagger UI from this service's static files, so it works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


# Mail (password reset, email verification): Django's own names, from the environment.
# Without EMAIL_HOST, mails are printed to the log, so the demo needs no mail server.
# Django 6.1 configures mail as MAILERS (its EMAIL_* settings are deprecated there):
# the same variables then make MAILERS["default"]; before 6.1 they are the EMAIL_* settings.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "authgate <noreply@localhost>")
_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_email_host = os.environ.get("EMAIL_HOST", "")
_email_backend = os.environ.get("EMAIL_BACKEND") or (
    _SMTP_BACKEND if _email_host else "django.core.mail.backends.console.EmailBackend"
)
_smtp_options = {
    "host": _email_host,
    "port": int(os.environ.get("EMAIL_PORT") or 25),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS"),
    "use_ssl": env_bool("EMAIL_USE_SSL"),
    "timeout": int(os.environ.get("EMAIL_TIMEOUT") or 10),
}
if django.VERSION >= (6, 1):
    MAILERS = {
        "default": {
            "BACKEND": _email_backend,
            "OPTIONS": _smtp_options if _email_backend == _SMTP_BACKEND else {},
        }
    }
else:
    EMAIL_BACKEND = _email_backend
    EMAIL_HOST = _smtp_options["host"]
    EMAIL_PORT = _smtp_options["port"]
    EMAIL_HOST_USER = _smtp_options["username"]
    EMAIL_HOST_PASSWORD = _smtp_options["password"]
    EMAIL_USE_TLS = _smtp_options["use_tls"]
    EMAIL_USE_SSL = _smtp_options["use_ssl"]
    EMAIL_TIMEOUT = _smtp_options["timeout"]
if not _email_host and not os.environ.get("EMAIL_BACKEND") and not DEBUG and "pytest" not in sys.modules:
    STARTUP_WARNINGS.append(
        "EMAIL_HOST is not set: mails, password reset links included, are printed to the log. "
        "Set EMAIL_HOST for anything but the local demo."
    )
if os.environ.get("PASSWORD_RESET_TIMEOUT"):
    PASSWORD_RESET_TIMEOUT = int(os.environ["PASSWORD_RESET_TIMEOUT"])


# AUTHGATE settings the environment does not set: their value is Python (a date in a dict),
# or they come from variables of their own (REDIS_URL and the sentinels, shared with CACHES).
ENV_PYTHON_ONLY = frozenset({"SIMPLEJWT_MIGRATION"})
ENV_OWN_VARIABLES = frozenset({"REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"})
# Settings whose default is None but whose value is a comma list, or a boolean.
ENV_LISTS = frozenset({"MFA_ENCRYPTION_KEYS", "WEBAUTHN_ORIGINS"})
ENV_BOOLEANS = frozenset({"COOKIE_SECURE"})


def _authgate_from_env() -> dict[str, Any]:
    """AUTHGATE settings from AUTHGATE_<NAME> environment variables, for every setting of
    authgate.conf.DEFAULTS but ENV_PYTHON_ONLY: durations in seconds, booleans as 1/0, lists
    comma-separated, dicts as JSON, the throttles' rates one by one
    (AUTHGATE_LOGIN_THROTTLE_USER_IP); unset or empty, the default holds."""
    from authgate.conf import DEFAULTS, DURATIONS, NESTED

    conf: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        if name in ENV_PYTHON_ONLY or name in ENV_OWN_VARIABLES:
            continue
        if name in NESTED:
            rates = {
                scope: os.environ[f"AUTHGATE_{name}_{scope}"]
                for scope in default
                if os.environ.get(f"AUTHGATE_{name}_{scope}")
            }
            if rates:
                conf[name] = rates
            continue
        value = os.environ.get(f"AUTHGATE_{name}")
        if not value:
            continue
        if name in DURATIONS:
            conf[name] = timedelta(seconds=float(value))
        elif isinstance(default, bool) or name in ENV_BOOLEANS:
            conf[name] = env_bool(f"AUTHGATE_{name}")
        elif type(default) is int:
            conf[name] = int(value)
        elif isinstance(default, tuple) or name in ENV_LISTS:
            conf[name] = env_list(f"AUTHGATE_{name}", [])
        elif isinstance(default, dict):  # VERIFYING_KEYS: {"kid": "public PEM", ...}
            conf[name] = json.loads(value)
        else:
            conf[name] = value
    conf["REDIS_URL"] = REDIS_URL
    if REDIS_SENTINELS:
        conf["REDIS_SENTINELS"] = REDIS_SENTINELS
        conf["REDIS_SENTINEL_MASTER"] = REDIS_SENTINEL_MASTER
    return conf


AUTHGATE = _authgate_from_env()

# LOG_FORMAT=json: one JSON object per line (server/logs.py), for log shippers.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "server.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain"}
    },
    "loggers": {
        "authgate": {"handlers": ["console"], "level": os.environ.get("AUTHGATE_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SESSION_COOKIE_SECURE", False)
# The CSRF cookie is sent over HTTPS only (as the auth cookies are) unless DEBUG; browsers
# treat http://localhost and 127.0.0.1 as secure, so the local demo keeps working.
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
