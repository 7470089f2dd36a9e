"""
Where the links of authgate's mails point (password reset, email verification, the account
page's session list): only to origins the project configured.

A link template that is absolute (`PASSWORD_RESET_URL = "https://app.example.com/reset?..."`)
is used as it is. A relative one is made absolute on an origin chosen here:

- `LINK_ORIGINS` set (e.g. `["https://auth.example.com"]`): the request's own origin when
  it is one of them, else the first;
- else, with `DEBUG` on: the request's origin (a development server on any port);
- else (production): the request's origin only when its host is allowed by name in
  `ALLOWED_HOSTS` (not merely by `*`) *and* its port is the scheme's default — or the host
  is loopback (the local demo on its own port). `Host: auth.example.com:31337` passes
  Django's host check (which ignores ports), but gets no link to port 31337 here.

When no origin qualifies the link stays relative (useless, but pointing nowhere foreign) and
an error is logged; the system checks `authgate.W002`/`authgate.W003` say so before it
happens. The choice never depends on whether an account exists, so the answer is the same.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import is_same_domain

from .conf import api_settings

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("authgate.links")

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = {"localhost"}


def is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc)


def configured_origins() -> list[str]:
    return [origin.rstrip("/") for origin in api_settings.LINK_ORIGINS or ()]


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _allowed_by_name(host: str) -> bool:
    """Allowed by an ALLOWED_HOSTS entry that names it (`auth.example.com`, `.example.com`),
    not only by the `*` wildcard."""
    return any(pattern != "*" and is_same_domain(host, pattern.lower()) for pattern in settings.ALLOWED_HOSTS)


def request_origin_allowed(scheme: str, host: str, port: int | None) -> bool:
    """Whether a link may go to this request origin when LINK_ORIGINS is not set."""
    if settings.DEBUG or _is_loopback(host):
        return True
    return (port is None or port == DEFAULT_PORTS.get(scheme)) and _allowed_by_name(host)


def origin_for(request: HttpRequest | None) -> str | None:
    """The origin (`scheme://host[:port]`) relative links get for `request`, or None."""
    configured = configured_origins()
    if request is None:
        return configured[0] if configured else None
    scheme = request.scheme or "http"
    own = f"{scheme}://{request.get_host()}"  # get_host() checks ALLOWED_HOSTS
    if configured:
        return own if own in configured else configured[0]
    parts = urlsplit(own)
    try:
        port = parts.port
    except ValueError:
        return None
    if request_origin_allowed(scheme, (parts.hostname or "").lower(), port):
        return own
    return None


def absolute(request: HttpRequest | None, url: str) -> str:
    """`url` made absolute on an allowed origin (an absolute `url` is kept as it is)."""
    if is_absolute(url):
        return url
    origin = origin_for(request)
    if origin is None:
        if request is not None:
            logger.error(
                "A mail link was left without an origin: %s is not an allowed link origin. Set "
                "AUTHGATE['LINK_ORIGINS'] (or absolute link URLs); see `manage.py check --deploy`.",
                f"{request.scheme}://{request.get_host()}",
            )
        return url
    return origin + (url if url.startswith("/") else "/" + url)
