"""Test settings: the service's own settings, with a per-process cache so tests start clean."""

from server.settings import *  # noqa: F401,F403
from server.settings import REDIS_URL

if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "authgate-tests"}}

# DRF's authtoken table, so that `import_drf_tokens` can be tested against real rows.
# simplejwt's blacklist tables, so that the migration from simplejwt is tested against them.
# Argon2id at a test's cost (tests/hashers.py); the service's hashers follow, for upgrades.
PASSWORD_HASHERS = ["tests.hashers.QuickArgon2PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken", "rest_framework_simplejwt.token_blacklist"]  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import os as _os

    # One test database file per pytest process: concurrent runs must not share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-authgate-{_os.getpid()}.sqlite3")}  # noqa: F405
