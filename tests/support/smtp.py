"""
A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, run as a subprocess
(`python -m aiosmtpd` with its Maildir handler) on a free port in 18500–18599
(AUTHGATE_TEST_SMTP_PORTS="first-last" moves the range). The service sends to it over TCP
with Django's SMTP backend — in process, or from gunicorn subprocesses — and the tests
read what it received from its Maildir.

A subprocess rather than a thread: the server's own work (parsing each message) must not
run under the test process's GIL, where it would be charged to the requests the timing
tests measure. Mails are sent in the background, so tests wait for them with `wait_for()`
(it polls the Maildir, with a generous timeout: no test asserts on time).
"""

import email
import email.policy
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from .browser import _die_with_parent

PORTS = os.environ.get("AUTHGATE_TEST_SMTP_PORTS", "18500-18599")
TIMEOUT = 30


def free_smtp_port():
    first, last = (int(part) for part in PORTS.split("-"))
    ports = list(range(first, last + 1))
    random.shuffle(ports)  # concurrent test runs rarely probe the same port at once
    for port in ports:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS} for the test SMTP server")


class Mail:
    """One received message: its envelope recipients, headers, text and HTML parts, link."""

    def __init__(self, raw):
        self.message = email.message_from_bytes(raw, policy=email.policy.default)
        self.recipients = [r.strip() for r in str(self.message["X-RcptTo"] or "").split(",") if r.strip()]
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
    """`python -m aiosmtpd -c aiosmtpd.handlers.Mailbox DIR` on a free port: every message
    it accepts becomes a file of the Maildir DIR, which the test reads."""

    def __init__(self):
        self.port = None
        self.dir = Path(tempfile.mkdtemp(prefix="authgate-smtp-"))
        self.maildir = self.dir / "maildir"
        self.process = None
        self._parsed = {}  # Maildir file name -> Mail

    def start(self):
        for _attempt in range(3):  # another process may take the port between probe and bind
            self.port = free_smtp_port()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    f"127.0.0.1:{self.port}",
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                    str(self.maildir),
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(self.dir / "server.log", "wb"),
                preexec_fn=_die_with_parent,
            )
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"the test SMTP server did not start: {(self.dir / 'server.log').read_text()}")

    def _wait_ready(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(3) == b"220":
                        # The greeting may come from another run's server on this port, ours
                        # having failed to bind it: ours must still be alive a moment later.
                        time.sleep(0.3)
                        return self.process.poll() is None
            except OSError:
                pass
            time.sleep(0.05)  # polling the server's start-up, not synchronising a test
        return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def mails(self):
        """Every message received so far, in the order of arrival."""
        files = []
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if folder.is_dir():
                for entry in os.scandir(folder):
                    try:
                        files.append((entry.stat().st_mtime_ns, entry.name, entry.path))
                    except FileNotFoundError:
                        continue  # cleared meanwhile
        mails = []
        for _mtime, name, path in sorted(files):
            if name not in self._parsed:  # a Maildir file never changes once delivered
                try:
                    self._parsed[name] = Mail(Path(path).read_bytes())
                except FileNotFoundError:
                    continue
            mails.append(self._parsed[name])
        return mails

    def clear(self):
        self._parsed.clear()
        for sub in ("new", "cur", "tmp"):
            folder = self.maildir / sub
            if folder.is_dir():
                for entry in os.scandir(folder):
                    Path(entry.path).unlink(missing_ok=True)

    def to(self, address):
        return [m for m in self.mails if address.lower() in (r.lower() for r in m.recipients)]

    def wait_for(self, address, count=1, timeout=TIMEOUT):
        """The mails to `address` once there are at least `count` (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(address)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                raise TimeoutError(
                    f"{count} mail(s) to {address} did not arrive; got {self.mails}; "
                    f"server {'running' if self.process.poll() is None else 'exited'}, log: {log}"
                )
            time.sleep(0.02)  # the Maildir has no change notification: poll it

    def settings(self):
        """Django settings that send to this server."""
        return mail_settings(
            "django.core.mail.backends.smtp.EmailBackend",
            host="127.0.0.1",
            port=self.port,
            use_tls=False,
            username="",
            password="",
            timeout=10,
        )

    def environment(self):
        """Environment variables that point the service (server/settings.py) at it."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}


# The SMTP backend's options and the EMAIL_* settings that give them before Django 6.1.
EMAIL_SETTINGS = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
    "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT",
}


def mail_settings(backend, **options):
    """Settings that make `backend` (with the SMTP `options`) the default mailer: MAILERS
    on Django 6.1 and later, where the EMAIL_* settings are deprecated; EMAIL_* before."""
    import django

    if django.VERSION >= (6, 1):
        return {"MAILERS": {"default": {"BACKEND": backend, "OPTIONS": options}}}
    return {"EMAIL_BACKEND": backend, **{EMAIL_SETTINGS[name]: value for name, value in options.items()}}


@pytest.fixture(scope="session")
def smtp_server():
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (make install-dev)")
    sink = SMTPSink().start()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def smtp(smtp_server, settings):
    """The SMTP server, emptied, with Django sending to it for this test."""
    from authgate.mail import outbox

    smtp_server.clear()
    for name, value in smtp_server.settings().items():
        setattr(settings, name, value)
    yield smtp_server
    outbox.flush()  # no mail of this test may arrive during the next one
