"""
The service's start-up warnings (no SECRET_KEY, no EMAIL_HOST) are said once per start:
gunicorn's master says them and its workers stay quiet, and a process told that this start
already said them (as the `make run` steps after `migrate` are) says nothing.
"""

import os
import subprocess
import sys
import tempfile

import pytest

from tests.support.processes import REPO, GunicornServer, http_status, wait_until

pytestmark = pytest.mark.multiprocess

SECRET_WARNING = "SECRET_KEY is not set"
EMAIL_WARNING = "EMAIL_HOST is not set"


def service_env(var_dir):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTHGATE_", "DJANGO_", "PYTEST_"))
        and k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "EMAIL_HOST", "DEBUG"}
    }
    env.update(DJANGO_SETTINGS_MODULE="server.settings", AUTHGATE_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    return env


def test_two_gunicorn_workers_say_the_start_up_warnings_once():
    with tempfile.TemporaryDirectory() as var_dir:
        server = GunicornServer(
            "server.wsgi:application", service_env(var_dir), workers=2, args=["-c", "server/gunicorn.conf.py"]
        )
        server.start()
        try:
            wait_until(lambda: server.log(100_000).count("Booting worker") >= 2, 60, "both workers booted")
            # Each worker has loaded the application (and run ready()) once it serves.
            for _ in range(4):
                http_status(server.port, "/api/health/", timeout=30)
            log = server.log(100_000)
        finally:
            server.stop(remove_log=True)
    assert log.count(SECRET_WARNING) == 1, log
    assert log.count(EMAIL_WARNING) == 1, log


def test_a_step_of_a_start_that_already_warned_stays_quiet():
    with tempfile.TemporaryDirectory() as var_dir:
        env = service_env(var_dir)
        first = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        later = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=REPO,
            env={**env, "AUTHGATE_STARTUP_WARNED": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert (first.stdout + first.stderr).count(SECRET_WARNING) == 1
    assert SECRET_WARNING not in later.stdout + later.stderr
