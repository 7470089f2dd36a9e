"""
The package boundary: a plain install needs only Django, Django REST framework, PyJWT
(with cryptography) and confusable-homoglyphs (Unicode's confusables data, pure Python); Redis and drf-spectacular are extras, imported only when used. The
wheel carries LICENSE and py.typed. Checked offline: the wheel is built from a copy of the
sources with the build backend installed here, and the app is run with the extras'
packages made unimportable.
"""

import email
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import files, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = [pytest.mark.portable, pytest.mark.single_pass]

ROOT = Path(__file__).resolve().parents[2]
CORE = {"django", "djangorestframework", "pyjwt", "confusable-homoglyphs"}


def _name(requirement):
    return Requirement(requirement).name.lower().replace("_", "-")


def _core(requirements):
    return {_name(r) for r in requirements if "extra ==" not in r}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-v",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = out.glob("authgate-*.whl")
    return path, build.stdout + build.stderr


def _metadata(wheel_path):
    with zipfile.ZipFile(wheel_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name)), archive.namelist()


def test_pyproject_core_dependencies_are_django_drf_pyjwt_and_the_confusables_data_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {_name(r) for r in project["dependencies"]} == CORE
    assert Requirement(next(r for r in project["dependencies"] if _name(r) == "pyjwt")).extras == {"crypto"}
    extras = project["optional-dependencies"]
    assert {_name(r) for r in extras["redis"]} == {"redis"}
    assert {_name(r) for r in extras["openapi"]} == {"drf-spectacular", "drf-spectacular-sidecar"}
    assert project["license"] == "BSD-3-Clause"


def test_the_installed_distribution_agrees():
    assert _core(requires("authgate")) == CORE


def test_no_core_dependency_installs_a_top_level_tests_package():
    """A dependency that ships its own `tests` package shadows this project's."""
    for name in CORE:
        assert not [path for path in files(name) or () if path.parts[0] in {"tests", "test"}], name


def test_the_wheel_requires_only_the_core_and_carries_license_and_py_typed(wheel):
    path, build_log = wheel
    metadata, names = _metadata(path)
    required = metadata.get_all("Requires-Dist")
    assert _core(required) == CORE
    assert not {"redis", "drf-spectacular"} & _core(required)
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert "License" not in metadata  # the deprecated free-text field
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "authgate/py.typed" in names
    assert "authgate/static/authgate/authgate.js" in names
    assert "authgate/templates/authgate/account.html" in names
    assert "authgate/templates/authgate/admin/login.html" in names  # the admin's login form with the code field
    assert "authgate/templates/authgate/email/factor_changed.txt" in names
    assert not any(n.startswith(("server/", "tests/")) for n in names)
    assert "deprecated" not in build_log.lower(), build_log


def test_the_app_works_without_the_extras():
    """register -> login -> protected -> logout -> 401 with redis and drf-spectacular (and
    the service's packages) unimportable and the documented minimal settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    run = subprocess.run(
        [sys.executable, "-m", "tests.core_only.flow"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "core-only flow: ok" in run.stdout
