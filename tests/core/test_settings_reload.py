"""
Settings changes (`override_settings`, Django's `setting_changed`) reach every module that
built state from them, each through its own receiver: `authgate.conf` (and its older path
`authgate.settings`) imports none of authgate's other modules, so there is no import cycle.
"""

import ast
from pathlib import Path

from django.test import override_settings

from authgate import revocation, tokens
from authgate.settings import api_settings

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authgate"


def test_the_settings_module_imports_no_other_authgate_module():
    tree = ast.parse((PACKAGE / "conf.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("authgate"), ast.unparse(node)
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("authgate") for alias in node.names), ast.unparse(node)


def test_the_older_settings_path_imports_nothing_but_the_settings():
    tree = ast.parse((PACKAGE / "settings.py").read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [(getattr(node, "level", None), getattr(node, "module", None)) for node in imports] == [(1, "conf")]


def test_an_override_reaches_the_settings_the_codec_and_the_store():
    codec, store = tokens.get_codec(), revocation.get_store()
    with override_settings(AUTHGATE={"ACCESS_TOKEN_LIFETIME": 42, "SIGNING_KEY": "another-signing-key-" * 3}):
        assert api_settings.ACCESS_TOKEN_LIFETIME.total_seconds() == 42
        assert tokens.get_codec() is not codec
        assert tokens.get_codec().signing_key == "another-signing-key-" * 3
        assert revocation.get_store() is not store
    assert api_settings.ACCESS_TOKEN_LIFETIME.total_seconds() == 15 * 60
    assert tokens.get_codec().signing_key != "another-signing-key-" * 3


def test_a_secret_key_change_makes_a_new_codec():
    codec = tokens.get_codec()
    with override_settings(SECRET_KEY="a-rotated-secret-key-" * 3):
        assert tokens.get_codec() is not codec
        assert tokens.get_codec().signing_key == "a-rotated-secret-key-" * 3
