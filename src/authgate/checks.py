"""
Django system checks (`manage.py check`, run before `migrate` and `runserver`): settings
that need an optional extra which is not installed are reported with what to install,
rather than failing later with a bare ImportError in the middle of a request, and a
simplejwt migration without an end date is refused.

`authgate.W001` (a database check, run by `migrate` and `check --database default`):
accounts whose username or email is, ignoring case and width, another account's login
name — left over from before login names were canonical. Each still logs in with its
exact username, but the shared name logs in the older account only.
"""

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import api_settings
from .simplejwt_migration import MigrationSettings

from .extras import EXTRAS, install_hint, is_installed

__all__ = ["EXTRAS", "install_hint", "is_installed"]  # re-exported: they lived here


@register()
def settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if api_settings.REDIS_URL and not is_installed(EXTRAS["redis"]):
        errors.append(
            Error(
                "AUTHGATE['REDIS_URL'] is set, but the redis package is not installed.",
                hint=install_hint("redis"),
                id="authgate.E001",
            )
        )
    try:
        MigrationSettings()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="authgate.E002"))
    return errors


SHOWN_CLASHES = 10


@register(Tags.database)
def login_name_clashes(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not databases:
        return []
    from django.db import DatabaseError

    from . import identity

    try:
        clashes = identity.rebuild(write=False)
    except DatabaseError:
        return []  # tables not migrated yet
    if not clashes:
        return []
    listed = "; ".join(
        f"account {pk} ({field} {value!r}) vs account {holder}" for pk, field, value, holder in clashes[:SHOWN_CLASHES]
    )
    more = f" and {len(clashes) - SHOWN_CLASHES} more" if len(clashes) > SHOWN_CLASHES else ""
    return [
        Warning(
            f"{len(clashes)} login name(s) clash with an older account's, ignoring case and width: {listed}{more}.",
            hint=(
                "Such a name logs in the older account; the newer one logs in only with its exact username "
                "(or not by that email). Rename the newer account or change its email (in the admin, or with "
                "save()); its login names are rebuilt on save. Merge or deactivate accounts that are one person."
            ),
            id="authgate.W001",
        )
    ]


@register(Tags.security)
def admin_login_asks_for_the_second_factor(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The admin's login form must not log in an account with a second factor on its
    password alone: authgate installs its form unless the project set its own."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.conf import settings
    from django.contrib import admin
    from importlib import import_module

    import_module(settings.ROOT_URLCONF)  # where projects set admin.site.login_form
    from .mfa.forms import SecondFactorLoginMixin

    form = admin.site.login_form
    if form is not None and not issubclass(form, SecondFactorLoginMixin):
        return [
            Warning(
                "admin.site.login_form does not ask for second factors: an account with one "
                "could sign in to the admin with its password alone.",
                hint="Use authgate.mfa.forms.AdminLoginForm, or add authgate.mfa.forms.SecondFactorLoginMixin "
                "to your form (first in its bases).",
                id="authgate.W010",
            )
        ]
    return []


@register(Tags.security)
def login_sessions_end_when_signed_out(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Django's login sessions (the admin's) must end when their account is signed out
    everywhere: `SignedOutEverywhereMiddleware` after the authentication middleware."""
    from django.conf import settings
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.utils.module_loading import import_string

    from .login_sessions import SignedOutEverywhereMiddleware

    def first(kind: type) -> int | None:
        for position, path in enumerate(settings.MIDDLEWARE):
            try:
                found = import_string(path)
            except ImportError:
                continue  # Django reports a middleware it cannot import
            if isinstance(found, type) and issubclass(found, kind):
                return position
        return None

    authentication = first(AuthenticationMiddleware)
    if authentication is None:
        return []  # no Django login session is ever opened on a request
    ours = first(SignedOutEverywhereMiddleware)
    if ours is not None and ours > authentication:
        return []
    return [
        Warning(
            "Django's login sessions (the admin's) do not end when their account is signed "
            "out everywhere: SignedOutEverywhereMiddleware is "
            + ("before the authentication middleware." if ours is not None else "not in MIDDLEWARE."),
            hint='Add "authgate.login_sessions.SignedOutEverywhereMiddleware" to MIDDLEWARE, '
            "after django.contrib.auth.middleware.AuthenticationMiddleware.",
            id="authgate.W011",
        )
    ]


def _relative_link_settings() -> list[str]:
    from .links import is_absolute

    return [name for name in ("PASSWORD_RESET_URL", "EMAIL_VERIFY_URL") if not is_absolute(getattr(api_settings, name))]


@register(Tags.security)
def link_origins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Where the mails' links go outside DEBUG (authgate.links): LINK_ORIGINS must list
    origins; without it, ALLOWED_HOSTS must name the hosts (a bare `*` names none)."""
    from django.conf import settings
    from urllib.parse import urlsplit

    messages: list[CheckMessage] = []
    for origin in api_settings.LINK_ORIGINS or ():
        parts = urlsplit(str(origin))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
            messages.append(
                Error(
                    f"AUTHGATE['LINK_ORIGINS'] holds {origin!r}, which is not an origin.",
                    hint='Write origins as scheme://host[:port], e.g. "https://auth.example.com".',
                    id="authgate.E020",
                )
            )
    relative = _relative_link_settings()
    if settings.DEBUG or not relative or api_settings.LINK_ORIGINS:
        return messages
    if "*" in settings.ALLOWED_HOSTS and all(host == "*" for host in settings.ALLOWED_HOSTS):
        messages.append(
            Warning(
                f"{' and '.join(relative)} are relative and ALLOWED_HOSTS is only '*': outside loopback, "
                "reset and verification links get no origin (the mails carry a path only).",
                hint="Set AUTHGATE['LINK_ORIGINS'] (env AUTHGATE_LINK_ORIGINS), e.g. "
                '["https://auth.example.com"], or make the link URLs absolute.',
                id="authgate.W021",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def link_origins_from_requests(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: say where links go when they take the request's origin."""
    from django.conf import settings

    relative = _relative_link_settings()
    if settings.DEBUG or not relative or api_settings.LINK_ORIGINS:
        return []
    named = [host for host in settings.ALLOWED_HOSTS if host != "*"]
    if not named:
        return []  # authgate.W021 says it already
    return [
        Warning(
            f"{' and '.join(relative)} are relative: reset and verification links take the request's origin, "
            f"allowed only for the hosts of ALLOWED_HOSTS ({', '.join(named)}) on the scheme's default port "
            "(or loopback); a request on another port gets a link without an origin.",
            hint="Name the origin(s) in AUTHGATE['LINK_ORIGINS'] (env AUTHGATE_LINK_ORIGINS), or make the link "
            "URLs absolute.",
            id="authgate.W020",
        )
    ]
