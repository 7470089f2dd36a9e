"""
django-allauth headless with authgate's token strategy, through allauth's own login flow,
in a project of its own (tests/allauth_project: the service does not install allauth).
The flows and what they prove are in tests/allauth_project/flow.py (sessions that end
together) and gate_flow.py (authgate's second factor and email rule past allauth's login).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.single_pass  # the allauth project has its own SQLite database

ROOT = Path(__file__).resolve().parents[2]


def run_flow(module, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(ALLAUTH_PROJECT_DB=str(tmp_path / "allauth.sqlite3"), AUTHGATE_VAR_DIR=str(tmp_path))
    env.setdefault("SECRET_KEY", "allauth-flow-secret-key-" + "x" * 32)
    run = subprocess.run(
        [sys.executable, "-m", f"tests.allauth_project.{module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_allauths_headless_login_flow_gets_authgate_sessions_that_end_together(tmp_path):
    assert "allauth flow: ok" in run_flow("flow", tmp_path)


def test_an_allauth_login_gets_no_pair_past_authgates_second_factor_or_an_unverified_address(tmp_path):
    assert "allauth gate: ok" in run_flow("gate_flow", tmp_path)
