"""
How authgate reaches Redis: one place that turns the settings into a redis-py client.

- `REDIS_URL` alone: a client for that server.
- `REDIS_SENTINELS` (a list of "host:port") with `REDIS_SENTINEL_MASTER`: a client for the
  primary that the sentinels name (redis-py's `Sentinel.master_for`). Every new connection
  asks the sentinels again, so after a failover the next connection reaches the promoted
  replica; `REDIS_URL`, when also set, gives only the database number, user and password.

Invariants: clients never retry on their own (a failure must be seen by the caller, which
then distrusts its cache or answers from the database); the sentinels are asked with the
same short timeouts as the primary. The redis package is imported only here, when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def parse_sentinels(value: str | Sequence[str]) -> list[tuple[str, int]]:
    """ "h1:26379,h2:26379" or ["h1:26379", ...] -> [("h1", 26379), ...]; ValueError if malformed."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"a sentinel is host:port, not {item!r}")
        out.append((host.strip("[]"), int(port)))
    return out


def make_client(
    url: str | None,
    *,
    sentinels: str | Sequence[str] = (),
    master: str = "",
    **timeouts: float,
) -> Any:
    """A redis-py client for the primary (see the module docstring), with no retries."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    no_retry = Retry(NoBackoff(), 0)
    addresses = parse_sentinels(sentinels) if sentinels else []
    if not addresses:
        if not url:
            raise ValueError("REDIS_URL or REDIS_SENTINELS is required")
        return redis.Redis.from_url(url, retry=no_retry, **timeouts)
    if not master:
        raise ValueError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the name the sentinels monitor)")
    from redis.connection import parse_url
    from redis.sentinel import Sentinel

    options: dict[str, Any] = {}
    if url:
        parsed = parse_url(url)
        options = {k: parsed[k] for k in ("db", "username", "password") if parsed.get(k) is not None}
    sentinel_timeouts = {k: v for k, v in timeouts.items() if k in ("socket_timeout", "socket_connect_timeout")}
    sentinel = Sentinel(addresses, sentinel_kwargs=dict(sentinel_timeouts), **sentinel_timeouts)
    return sentinel.master_for(master, retry=no_retry, **options, **timeouts)
