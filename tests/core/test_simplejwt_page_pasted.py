"""
The settings of the simplejwt migration page, pasted at the end of a real simplejwt project's
settings (a new `startproject` set up as simplejwt's docs say), pass Django's checks and
migrate: no duplicate `rest_framework` app label, authgate installed beside simplejwt.
"""

import os
import subprocess
import sys

import pytest

from tests.package.test_docs import REPO, code_blocks

pytestmark = pytest.mark.portable

SIMPLEJWT_PROJECT = """
INSTALLED_APPS += ["rest_framework", "rest_framework_simplejwt"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
}
"""


def test_the_migration_pages_settings_run_in_a_simplejwt_project(tmp_path):
    [settings_block] = [
        code
        for lang, code, _ in code_blocks(REPO / "docs" / "migrate-from-simplejwt.md")
        if lang == "python" and code.startswith("# mysite/settings.py")
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTHGATE_", "DJANGO_", "PYTEST_")) and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], check=True, env=env)
    with open(tmp_path / "mysite" / "settings.py", "a") as settings:
        settings.write(SIMPLEJWT_PROJECT + "\n" + settings_block)
    for args in (["check"], ["migrate", "--noinput"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
