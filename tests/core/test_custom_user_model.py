"""
A custom user model that logs in by email (USERNAME_FIELD = "email", no `username`
field) works end to end: register, login (by `username` or by `email`), protected views,
refresh, logout, password change, deactivation, static tokens, password reset, the admin
and the simplejwt exchange. A process has one AUTH_USER_MODEL, so the scenarios
(tests/custom_user/scenarios.py) run in their own pytest process, with their own settings,
on this pass's database (SQLite in memory, or a separate PostgreSQL test database).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.portable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="the scenarios run without Redis: the PostgreSQL pass ran them"
)
def test_custom_user_model_scenarios():
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--create-db",
            "--ds=tests.custom_user.settings",
            "tests/custom_user/scenarios.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
