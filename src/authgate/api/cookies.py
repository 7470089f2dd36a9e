"""Cookie mode: setting, reading and clearing the auth cookies."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from ..conf import api_settings
from ..tokens import TokenPair


def _secure() -> bool:
    configured = api_settings.COOKIE_SECURE
    return (not settings.DEBUG) if configured is None else bool(configured)


def _common() -> dict[str, Any]:
    return {
        "domain": api_settings.COOKIE_DOMAIN,
        "secure": _secure(),
        "httponly": True,
        "samesite": api_settings.COOKIE_SAMESITE,
    }


def set_auth_cookies(response: HttpResponseBase, pair: TokenPair) -> None:
    response.set_cookie(
        api_settings.ACCESS_COOKIE_NAME,
        pair.access,
        max_age=int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        path=api_settings.ACCESS_COOKIE_PATH,
        **_common(),
    )
    response.set_cookie(
        api_settings.REFRESH_COOKIE_NAME,
        pair.refresh,
        max_age=int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        path=api_settings.REFRESH_COOKIE_PATH,
        **_common(),
    )


def clear_auth_cookies(response: HttpResponseBase) -> None:
    for name, path in (
        (api_settings.ACCESS_COOKIE_NAME, api_settings.ACCESS_COOKIE_PATH),
        (api_settings.REFRESH_COOKIE_NAME, api_settings.REFRESH_COOKIE_PATH),
    ):
        response.set_cookie(name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path=path, **_common())


def refresh_cookie(request: HttpRequest) -> str | None:
    return request.COOKIES.get(api_settings.REFRESH_COOKIE_NAME) or None


def has_auth_cookies(request: HttpRequest) -> bool:
    return bool(request.COOKIES.get(api_settings.ACCESS_COOKIE_NAME) or refresh_cookie(request))
