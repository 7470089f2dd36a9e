"""Test settings: the service's own settings, with a per-process cache so tests start clean."""
from server.settings import *  # noqa: F401,F403
from server.settings import REDIS_URL

if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "authgate-tests"}}

# DRF's authtoken table, so that `import_drf_tokens` can be tested against real rows.
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]  # noqa: F405
