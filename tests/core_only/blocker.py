"""Makes the optional extras' packages unimportable, as if they were not installed."""

import importlib.abc
import sys

# What the extras (redis, openapi, server) bring; the app must not need any of them.
BLOCKED = (
    "redis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "argon2",
    "whitenoise",
    "corsheaders",
    "dj_database_url",
    "psycopg",
    "gunicorn",
    "prometheus_client",
    "server",
)


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked by the core-only test)", name=fullname)
        return None


def install():
    already = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    if already:
        raise RuntimeError(f"imported before the blocker was installed: {already}")
    sys.meta_path.insert(0, Blocker())
