"""
Support for the real-browser tests (tests/test_browser_*.py): a live authgate service and
Debian's Chromium driven by Playwright.

The service is the one `make run` serves — gunicorn, DEBUG off, two worker processes — on a
free 127.0.0.1 port with its own temporary SQLite database, so the browser talks to the real
thing over real HTTP. Chromium is Debian's (/usr/bin/chromium): Playwright cannot download
browsers here and nothing is downloaded at test time. Without it the tests skip, except
under CI=true where a missing browser is a failure: CI must not go green by skipping.

Cookies: with DEBUG off the auth cookies are `Secure`. Chromium treats http://127.0.0.1 as a
secure context and stores Secure cookies set by it, so the test server runs with the
production cookie flags (no AUTHGATE_COOKIE_SECURE override).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("AUTHGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery-9"
SECRET_KEY = "browser-tests-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
# Generous: the machine running `make test` may be busy; every wait is event-driven, so a
# long timeout costs nothing when things work.
TIMEOUT_MS = 20_000
STARTUP_TIMEOUT = 90


def in_ci():
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_chromium():
    """Path of the browser; skip without it — fail under CI=true."""
    reason = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (make install-dev)"
    if reason:
        if in_ci():
            pytest.fail(f"{reason}; the browser tests must run under CI=true", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@contextlib.contextmanager
def chromium():
    """One headless Chromium for a test module (contexts are cheap, browsers are not)."""
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # If pytest is killed (timeout, ^C twice), the server must not outlive it.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LiveServer:
    """The authgate service under gunicorn with a throw-away SQLite database."""

    def __init__(self, **env):
        self.extra_env = {k: str(v) for k, v in env.items()}
        self.dir = Path(tempfile.mkdtemp(prefix="authgate-browser-"))
        self.proc = None
        self.url = None
        self.log_path = self.dir / "server.log"

    @property
    def env(self):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AUTHGATE_") and k not in {"DATABASE_URL", "REDIS_URL"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="server.settings",  # pytest-django exported tests.settings
            AUTHGATE_VAR_DIR=str(self.dir),
            SECRET_KEY=SECRET_KEY,
            DEBUG="0",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self):
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup();"
                "from django.core.management import call_command as c;"
                "c('migrate', interactive=False, verbosity=0); c('createcachetable', verbosity=0)",
            ],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=STARTUP_TIMEOUT,
        )
        for _attempt in range(3):  # another process may grab the port between probe and bind
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "server.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "60",
                    "--access-logfile",
                    "-",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"the test server did not start; log:\n{self.log()[-4000:]}")

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/api/health/", timeout=5) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)  # polling the server's start-up, not synchronising a test
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # gunicorn's master stops its workers on SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---- direct HTTP (setup and server-side checks, not the browser) --------------------
    def api(self, method, path, body=None, token=None):
        """(status, JSON body) of a request to the server, outside the browser."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def register(self, username):
        status, body = self.api(
            "POST",
            "/api/auth/register/",
            {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert status == 201, body
        return body


@contextlib.contextmanager
def live_server(**env):
    server = LiveServer(**env)
    try:
        yield server.start()
    finally:
        server.close()


def expired_copy(token):
    """The same access token (same session, generation, jti), signed by the test server's
    key, with `exp` a minute in the past: what the client holds after the lifetime ran out."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 60  # beyond the default 5 s leeway
    header = jwt.get_unverified_header(token)
    return jwt.encode(
        claims,
        SECRET_KEY,
        algorithm=header.get("alg", "HS256"),
        headers={k: v for k, v in header.items() if k not in {"alg", "typ"}} or None,
    )


def screenshot(page, name):
    """Saves a PNG under test-artifacts/browser/ (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, username, password=PASSWORD):
    """Fills and submits the sign-in form; waits until the account view has loaded."""
    from playwright.sync_api import expect

    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    form = page.locator("#login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#profile")).to_have_attribute("data-username", username)


def stored(page, key):
    """A JSON value from the page's localStorage (None when absent)."""
    return page.evaluate("k => JSON.parse(localStorage.getItem(k))", key)


# ---- fixtures (imported by the test modules: one server and one browser per module) ----


_artifacts_cleared = False


@pytest.fixture(scope="module")
def browser():
    global _artifacts_cleared
    if not _artifacts_cleared:  # no screenshots left over from an earlier run (once: not another module's)
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        _artifacts_cleared = True
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(browser):  # after `browser`: no server start when the tests are skipped
    with live_server() as s:
        yield s


@pytest.fixture
def new_context(browser, server, request):
    """Factory of fresh browser contexts (separate cookie jars and storage: separate devices).

    When the test fails, every open page is screenshotted at teardown (the state it failed
    in); uncaught page errors fail the test.
    """
    made, errors = [], []
    failures_before = request.session.testsfailed

    def make(**options):  # Playwright's context options: viewport, user_agent, is_mobile…
        ctx = browser.new_context(base_url=server.url, **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}")))
        made.append(ctx)
        return ctx

    yield make
    failed = request.session.testsfailed > failures_before  # the call phase is reported by now
    for i, ctx in enumerate(made):
        for j, page in enumerate(ctx.pages if failed else ()):
            with contextlib.suppress(Exception):
                screenshot(page, f"FAILED-{request.node.name}-context{i}-page{j}")
        ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# ---- accessibility (axe-core, the npm package of tests/js, run inside the page) -------------
AXE = REPO / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page, impacts=SERIOUS):
    """axe-core's violations of `impacts` on the page once its finite animations have ended:
    [(rule id, impact, help, [target selectors])]. Evaluated through the DevTools protocol, so the page's strict
    Content-Security-Policy does not stop the injected script. Without axe-core (`npm ci
    --prefix tests/js`) the test skips, and fails under CI=true."""
    if not AXE.exists():
        reason = f"axe-core is not installed ({AXE}); run `npm ci --prefix tests/js`"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async (impacts) => {
             // The page as a person reads it: finite animations (a message sliding in, its
             // opacity still rising) finished first; endless ones (spinners) are left running.
             await Promise.all(document.getAnimations()
               .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
               .map((a) => a.finished.catch(() => null)));
             const result = await window.axe.run(document, { resultTypes: ["violations"] });
             return result.violations.filter((v) => impacts.includes(v.impact))
               .map((v) => [v.id, v.impact, v.help, v.nodes.map((n) => n.target.join(" "))]);
           }""",
        list(impacts),
    )
    return [tuple(v) for v in found]
