"""
The release as a newcomer gets it: `make dist` (scripts/dist.sh) builds the sdist, the wheel
and the npm tarball of @authgate/client with SHA-256 checksums; the built wheel, installed
with pip into a fresh venv of this pass's Python and Django line (3.11 + 5.2 LTS in the first
pass, 3.13 + 6.1 in the portable pass of scripts/test-matrix.toml), runs the README's
documented minimum in a brand-new `startproject`: register, login, protected route,
refresh, logout, and the old access token refused with 401.

pip reaches the package index for Django, DRF and PyJWT (its cache makes that quick); the
wheel itself is the one built here.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import django
import pytest

from tests.package.test_docs import VARIANTS, NewProject, _seed_flow

pytestmark = [pytest.mark.portable, pytest.mark.single_pass]

ROOT = Path(__file__).resolve().parent.parent.parent
INSTALL_TIMEOUT = 600


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """scripts/dist.sh run on a copy of the sources (the checkout is left untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    (source / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "dist.sh", source / "scripts" / "dist.sh")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        ["bash", str(source / "scripts" / "dist.sh")],
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "PY": sys.executable,
            "DIST": str(out),
        },
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_make_dist_builds_the_sdist_the_wheel_and_the_npm_tarball_with_checksums(dist):
    names = sorted(p.name for p in dist.iterdir())
    assert names == [
        "SHA256SUMS",
        "authgate-0.1.0-py3-none-any.whl",
        "authgate-0.1.0.tar.gz",
        "authgate-client-0.1.0.tgz",  # npm's file name for @authgate/client
    ]
    sums = dict(reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == set(names) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name
    with tarfile.open(dist / "authgate-client-0.1.0.tgz") as npm:
        manifest = json.load(npm.extractfile("package/package.json"))
    assert manifest["name"] == "@authgate/client"
    with zipfile.ZipFile(dist / "authgate-0.1.0-py3-none-any.whl") as wheel:
        files = set(wheel.namelist())
    for needed in (
        "authgate/templates/authgate/account.html",
        "authgate/static/authgate/authgate.js",
        "authgate/py.typed",
        "authgate/views.pyi",  # the types of a moved module's old path
        "authgate/mfa/webauthn/views.pyi",  # the same, one package down
        "authgate/locale/fr/LC_MESSAGES/django.po",
        "authgate/locale/fr/LC_MESSAGES/django.mo",
    ):
        assert needed in files
    assert any(f.startswith("authgate/migrations/0001") for f in files)
    with tarfile.open(dist / "authgate-0.1.0.tar.gz") as sdist:
        assert "authgate-0.1.0/LICENSE" in sdist.getnames()


def test_the_built_wheel_runs_the_readme_minimum_in_a_new_project(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    python = venv / "bin" / "python"
    line = f"Django~={django.VERSION[0]}.{django.VERSION[1]}.0"  # this pass's Django line
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            str(dist / "authgate-0.1.0-py3-none-any.whl"),
            line,
            "gunicorn",
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    shown = subprocess.run(
        [str(python), "-c", "import authgate, django; print(authgate.__file__, django.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in shown and f" {django.VERSION[0]}.{django.VERSION[1]}" in shown, shown

    (tmp_path / "site").mkdir()
    project = NewProject(tmp_path / "site", VARIANTS["readme-minimum"], python=python)
    project.manage("migrate", "--noinput")
    project.serve()
    try:
        _seed_flow(project)
    except (AssertionError, OSError) as error:
        raise AssertionError(f"{error!r}\nserver log:\n{project.server_log()}") from None
    finally:
        project.stop()


def test_the_built_wheel_with_only_the_metrics_extra_serves_the_metrics_snippet(dist, tmp_path):
    """docs/operations.md's metrics snippet, pasted as it stands into a new project (with the
    README's minimum) that installed the wheel with the `metrics` extra and nothing else:
    GET /metrics answers the Prometheus text with the documented series, counting a login."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"{dist / 'authgate-0.1.0-py3-none-any.whl'}[metrics]",
            f"Django~={django.VERSION[0]}.{django.VERSION[1]}.0",
            "gunicorn",  # the test's server, not the project's
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    names = {package["name"].lower().replace("_", "-") for package in json.loads(installed)}
    assert "prometheus-client" in names
    assert not names & {"redis", "drf-spectacular", "whitenoise", "dj-database-url", "psycopg"}, names  # no [server]

    (tmp_path / "site").mkdir()
    project = NewProject(tmp_path / "site", [ROOT / "README.md", ROOT / "docs" / "operations.md"], python=python)
    urls = (project.root / "mysite" / "urls.py").read_text()
    assert "from authgate.metrics import MetricsView" in urls, "the operations page's urls.py, as pasted"
    project.manage("check")
    project.manage("migrate", "--noinput")
    project.serve()
    try:
        password = "correct-horse-battery-9"
        status, body = project.call(
            "POST", "/api/auth/register/", {"username": "ada", "email": "ada@example.com", "password": password}
        )
        assert status == 201, (status, body)
        status, body = project.call("POST", "/api/auth/login/", {"username": "ada", "password": password})
        assert status == 200, (status, body)
        status, text = project.call("GET", "/metrics")
        assert status == 200, (status, text)
        assert 'authgate_login_attempts_total{outcome="success"} 1.0' in text, text
        assert "authgate_active_sessions 1.0" in text, text
        for series in ("authgate_refresh_total", "authgate_sessions_ended_total", "authgate_mfa_events_total"):
            assert series in text, series
        project.stop()
        assert "Traceback" not in (project.root / "server.log").read_text(errors="replace")
    except (AssertionError, OSError) as error:
        raise AssertionError(f"{error!r}\nserver log:\n{project.server_log()}") from None
    finally:
        project.stop()
