"""
Who a request comes from, in one place: `client_ip()` is the notion of "the client" shared
by the login throttle, the activity trail, session rows and the simplejwt exchange, and
`valid_ip()` what a typed IP column may hold. Above the settings only.

Invariant: the client IP comes from CLIENT_IP_HEADER (its first entry) only when that
setting names a header, else from REMOTE_ADDR: a header a proxy does not overwrite would
let a client choose its own throttle bucket.
"""

import ipaddress
from typing import Any

from .conf import api_settings


def client_ip(request: Any) -> str:
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
