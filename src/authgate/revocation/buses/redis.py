"""
`RedisBus` (REDIS_URL, or REDIS_SENTINELS): Redis pub/sub on one channel, "<REDIS_KEY_PREFIX>:revocation".

`publish()` sends the messages after the commit (as one payload; more than MAX_MESSAGES
become a FLUSH); heartbeats, fences and acknowledgements travel on the same channel. Two
connections: a short-timeout client for publishing (when Redis is slow or gone, the
database answers) and a subscription of its own that redis-py never silently reconnects
(and resubscribes), so that a lost subscription is always noticed as a failure. Clients
are made by `_make_client()`, the one place to change how Redis is reached.
"""

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ...extras import install_hint
from ...redis_client import make_client
from ..messages import FLUSH, MAX_MESSAGES
from .base import PushBus

logger = logging.getLogger("authgate.revocation")


class RedisBus(PushBus):
    """Redis pub/sub on one channel. Messages are published by the store after the commit."""

    label = "Redis"

    def __init__(
        self, url: str | None, prefix: str = "authgate", sentinels: Sequence[str] = (), master: str = ""
    ) -> None:
        super().__init__()
        try:
            import redis
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"REDIS_URL is set but the redis package is not installed: {install_hint('redis')}"
            ) from exc

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.url = url
        self.sentinels = tuple(sentinels)
        self.master = master
        self.channel = f"{prefix}:revocation"
        # Short timeouts and no retries: when Redis is slow or gone, the database answers.
        self.client = self._make_client(socket_connect_timeout=0.25, socket_timeout=0.25)
        self._pubsub: Any = None
        self._sub_client: Any = None
        self._outbox: list[str] = []

    def _make_client(self, **timeouts: float) -> Any:
        """A client for the primary (REDIS_URL, or through REDIS_SENTINELS) that never retries
        (a failure must be seen, not hidden). Through Sentinel each new connection asks the
        sentinels where the primary is: after a failover, the reconnection finds the new one."""
        return make_client(self.url, sentinels=self.sentinels, master=self.master, **timeouts)

    def _connect(self) -> None:
        # Its own client: never silently reconnected (and resubscribed) by redis-py.
        self._sub_client = self._make_client(socket_connect_timeout=1, socket_timeout=5)
        self._pubsub = self._sub_client.pubsub()
        self._pubsub.subscribe(self.channel)

    def _fileno(self) -> int:
        return int(self._pubsub.connection._sock.fileno())

    def _read(self) -> None:
        while True:
            message = self._pubsub.get_message(timeout=0)
            if message is None:
                return
            if message["type"] == "message":
                self._received(message["data"].decode())

    def _send_heartbeat(self, payload: str) -> None:
        self._send(payload)

    def _disconnect(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            pubsub.close()
            self._sub_client.close()

    def _send(self, payload: str) -> None:
        # Called with the lock held: the listener thread publishes it without the lock, so
        # that a request never waits on a Redis round trip to read the subscription.
        self._outbox.append(payload)
        os.write(self._wake_w, b"x")

    def _after_read(self) -> None:
        payloads, self._outbox = self._outbox, []
        if payloads:
            pipe = self.client.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish(self.channel, payload)
            pipe.execute()

    def _send_fence(self, payload: str) -> None:
        self.client.publish(self.channel, payload)

    PUBLISH_RETRY = 0.1  # seconds between two attempts while Redis does not answer

    def publish(self, messages: Sequence[str]) -> bool:
        """Publish; while Redis does not take it (a stall: a paused primary, a failover),
        retry until the trust period has passed since the first attempt. By then a process
        that did not hear the change has heard no heartbeat echo for as long: it no longer
        trusts its cache, and forgets it before trusting again (`_renew_trust`). Still not
        taken: the listener thread keeps it and publishes it once Redis answers."""
        if len(messages) > MAX_MESSAGES:
            messages = [FLUSH]
        payload = " ".join(messages)
        deadline = time.monotonic() + self.TRUST + 0.25
        while True:
            try:
                self.client.publish(self.channel, payload)
                return True
            except self._errors as exc:
                if time.monotonic() >= deadline:
                    logger.warning(
                        "Redis unavailable while publishing a revocation (%s: %s); the answer waited "
                        "until no process trusts its cache without it.",
                        exc.__class__.__name__,
                        exc,
                    )
                    with self._lock:
                        self._send(payload)
                    return False
            time.sleep(self.PUBLISH_RETRY)

    def health(self) -> str:
        try:
            self.client.ping()
            return "ok"
        except self._errors:
            return "down"
