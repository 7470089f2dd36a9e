"""
Who a request comes from, in one place: `client_ip()` is the notion of "the client" shared
by the login throttle, the activity trail, session rows and the simplejwt exchange, and
`valid_ip()` what a typed IP column may hold; `user_of()` is the account of a request its
view let in authenticated. Above the settings only.

Invariant: the client IP comes from CLIENT_IP_HEADER (its first entry) only when that
setting names a header, else from REMOTE_ADDR: a header a proxy does not overwrite would
let a client choose its own throttle bucket.
"""

import ipaddress

from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from .conf import api_settings
from .types import User


def client_ip(request: HttpRequest | None) -> str:
    """The client's IP as the request says it ("" when unknown or no request); `request` is
    Django's or DRF's."""
    if request is None:
        return ""
    header = api_settings.CLIENT_IP_HEADER
    if header and request.META.get(header):
        return str(request.META[header]).split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR") or "")


def valid_ip(ip: str | None) -> str | None:
    """`ip` normalised if it is an IP address (a header may lie; the columns are typed), else None."""
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def user_of(request: Request) -> User:
    """The user of a request that its view's permissions let in authenticated (DRF's
    `IsAuthenticated`); NotAuthenticated (401) for an anonymous one."""
    user = request.user
    if not user.is_authenticated:
        raise NotAuthenticated()
    return user


# The request that changes a user (a password change through a view): the receivers of the
# user's save (the password-changed notice) name its device.
_REQUEST_ATTRIBUTE = "_authgate_request"


def remember_request(user: User, request: HttpRequest | None) -> None:
    """Let the receivers of `user`'s next save know which request made the change."""
    setattr(user, _REQUEST_ATTRIBUTE, request)


def remembered_request(user: User) -> HttpRequest | None:
    """The request `remember_request()` noted on `user`, if any."""
    request: HttpRequest | None = getattr(user, _REQUEST_ATTRIBUTE, None)
    return request
