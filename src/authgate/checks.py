"""
Django system checks (`manage.py check`, run before `migrate` and `runserver`): settings
that need an optional extra which is not installed are reported with what to install,
rather than failing later with a bare ImportError in the middle of a request, and a
simplejwt migration without an end date is refused.
"""
from importlib import import_module
from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from .settings import api_settings
from .simplejwt_migration import MigrationSettings

# extra name -> the modules it brings
EXTRAS = {"redis": "redis", "openapi": "drf_spectacular"}


def install_hint(extra: str) -> str:
    return f"pip install 'authgate[{extra}]'"


def is_installed(module: str) -> bool:
    try:  # only asked when a setting needs the module, which is then imported anyway
        import_module(module)
    except ImportError:
        return False
    return True


@register()
def settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if api_settings.REDIS_URL and not is_installed(EXTRAS["redis"]):
        errors.append(Error(
            "AUTHGATE['REDIS_URL'] is set, but the redis package is not installed.",
            hint=install_hint("redis"),
            id="authgate.E001",
        ))
    try:
        MigrationSettings()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="authgate.E002"))
    return errors
