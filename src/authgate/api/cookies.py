"""Cookie mode: setting, reading and clearing the auth cookies."""

from django.conf import settings

from ..conf import api_settings


def _secure():
    configured = api_settings.COOKIE_SECURE
    return (not settings.DEBUG) if configured is None else bool(configured)


def _common():
    return {
        "domain": api_settings.COOKIE_DOMAIN,
        "secure": _secure(),
        "httponly": True,
        "samesite": api_settings.COOKIE_SAMESITE,
    }


def set_auth_cookies(response, pair):
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


def clear_auth_cookies(response):
    for name, path in (
        (api_settings.ACCESS_COOKIE_NAME, api_settings.ACCESS_COOKIE_PATH),
        (api_settings.REFRESH_COOKIE_NAME, api_settings.REFRESH_COOKIE_PATH),
    ):
        response.set_cookie(name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path=path, **_common())


def refresh_cookie(request):
    return request.COOKIES.get(api_settings.REFRESH_COOKIE_NAME) or None


def has_auth_cookies(request):
    return bool(request.COOKIES.get(api_settings.ACCESS_COOKIE_NAME) or refresh_cookie(request))
