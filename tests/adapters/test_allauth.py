"""
django-allauth headless with authgate's token strategy, through allauth's own login flow,
in a project of its own (tests/allauth_project: the service does not install allauth).
The flow and what it proves are in tests/allauth_project/flow.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.single_pass  # the allauth project has its own SQLite database

ROOT = Path(__file__).resolve().parents[2]


def test_allauths_headless_login_flow_gets_authgate_sessions_that_end_together(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(ALLAUTH_PROJECT_DB=str(tmp_path / "allauth.sqlite3"), AUTHGATE_VAR_DIR=str(tmp_path))
    env.setdefault("SECRET_KEY", "allauth-flow-secret-key-" + "x" * 32)
    run = subprocess.run(
        [sys.executable, "-m", "tests.allauth_project.flow"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "allauth flow: ok" in run.stdout
