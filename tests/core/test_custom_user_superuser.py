"""
The custom user model of docs/extending.md, pasted as `accounts/models.py` into a brand-new
`startproject` with authgate installed, supports `manage.py createsuperuser` (here with
--noinput and the DJANGO_SUPERUSER_* variables), and the staff user it makes signs in to the
API with its email.
"""

import os
import subprocess
import sys

import pytest

from tests.package.test_docs import REPO, code_blocks

pytestmark = pytest.mark.portable

PASSWORD = "a-long-admin-passphrase-7"


def documented_model():
    [code] = [c for lang, c, _ in code_blocks(REPO / "docs" / "extending.md") if c.startswith("# accounts/models.py")]
    return code


def run(root, env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_documented_custom_user_creates_a_superuser(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTHGATE_", "DJANGO_", "PYTEST_")) and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], check=True, env=env)
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "__init__.py").write_text("")
    (tmp_path / "accounts" / "models.py").write_text(documented_model())
    with open(tmp_path / "mysite" / "settings.py", "a") as settings:
        settings.write(
            '\nINSTALLED_APPS += ["rest_framework", "authgate", "accounts"]\nAUTH_USER_MODEL = "accounts.EmailUser"\n'
        )
    run(tmp_path, env, "makemigrations", "accounts")
    run(tmp_path, env, "migrate", "--noinput")
    run(
        tmp_path,
        {
            **env,
            "DJANGO_SUPERUSER_EMAIL": "Admin@Example.com",
            "DJANGO_SUPERUSER_FULL_NAME": "Ada Admin",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        },
        "createsuperuser",
        "--noinput",
    )
    shown = run(
        tmp_path,
        env,
        "shell",
        "-c",
        "from django.contrib.auth import authenticate, get_user_model;"
        "u = get_user_model().objects.get();"
        f"print(u.email, u.full_name, u.is_staff, u.is_superuser, authenticate(email=u.email, password={PASSWORD!r}) == u)",
    )
    assert shown.strip().splitlines()[-1].split() == ["Admin@example.com", "Ada", "Admin", "True", "True", "True"]
