"""
A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, in a thread of the test
process, on a free port in 18500–18599 (AUTHGATE_TEST_SMTP_PORTS="first-last" moves the
range). The service sends to it over TCP with Django's SMTP backend — in process, or from
gunicorn subprocesses — and the tests read what it received.

Mails are sent in the background, so tests wait for them with `wait_for()` (event-driven,
with a generous timeout: no test asserts on time).
"""
import email
import email.policy
import os
import re
import socket
import threading
from contextlib import closing
from urllib.parse import parse_qs, urlparse

import pytest

PORTS = os.environ.get("AUTHGATE_TEST_SMTP_PORTS", "18500-18599")
TIMEOUT = 30


def free_smtp_port():
    first, last = (int(part) for part in PORTS.split("-"))
    for port in range(first, last + 1):
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS} for the test SMTP server")


class Mail:
    """One received message: its envelope, headers, text and HTML parts, and its link."""

    def __init__(self, envelope):
        self.envelope_from = envelope.mail_from
        self.recipients = list(envelope.rcpt_tos)
        self.message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.subject = str(self.message["Subject"])
        self.to = str(self.message["To"])
        text = self.message.get_body(preferencelist=("plain",))
        html = self.message.get_body(preferencelist=("html",))
        self.text = text.get_content() if text else ""
        self.html = html.get_content() if html else ""

    @property
    def link(self):
        """The one http(s) link of the text part."""
        links = re.findall(r"https?://\S+", self.text)
        assert len(links) == 1, self.text
        return links[0]

    @property
    def uid_and_token(self):
        query = parse_qs(urlparse(self.link).query)
        return {"uid": query["uid"][0], "token": query["token"][0]}

    def __repr__(self):
        return f"<Mail to {self.recipients} {self.subject!r}>"


class SMTPSink:
    """aiosmtpd's Controller (a thread with its own event loop) with a handler that keeps
    every message; `wait_for()` blocks until the wanted mails are there."""

    def __init__(self):
        self.port = None
        self.mails = []
        self._changed = threading.Condition()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self._changed:
            self.mails.append(Mail(envelope))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def start(self):
        from aiosmtpd.controller import Controller

        self.port = free_smtp_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()

    def clear(self):
        with self._changed:
            self.mails.clear()

    def to(self, address):
        with self._changed:
            return [m for m in self.mails if address.lower() in (r.lower() for r in m.recipients)]

    def wait_for(self, address, count=1, timeout=TIMEOUT):
        """The mails to `address` once there are at least `count` (TimeoutError otherwise)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._to(address)) >= count, timeout):
                raise TimeoutError(f"{count} mail(s) to {address} did not arrive; got {self.mails}")
            return self._to(address)

    def _to(self, address):
        return [m for m in self.mails if address.lower() in (r.lower() for r in m.recipients)]

    def settings(self):
        """Django settings that send to this server."""
        return {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": self.port, "EMAIL_USE_TLS": False,
                "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": "", "EMAIL_TIMEOUT": 10}

    def environment(self):
        """Environment variables that point the service (server/settings.py) at it."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}


@pytest.fixture(scope="session")
def smtp_server():
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (make install-dev)")
    sink = SMTPSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """The SMTP server, emptied, with Django sending to it for this test."""
    from authgate.mail import outbox

    smtp_server.clear()
    for name, value in smtp_server.settings().items():
        setattr(settings, name, value)
    yield smtp_server
    outbox.flush()  # no mail of this test may arrive during the next one
