"""`manage.py import_drf_tokens`: moving over from DRF's authtoken keeps clients working."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import modify_settings
from rest_framework.authtoken.models import Token

from authgate.models import StaticToken

PROTECTED = "/api/protected/"


def quick_user(username):
    user = get_user_model()(username=username, email=f"{username}@example.com")
    user.set_unusable_password()  # no Argon2 cost: nobody logs in with a password here
    user.save()
    return user


def run(*args):
    out = StringIO()
    call_command("import_drf_tokens", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def legacy_keys(db):
    """Two users with DRF authtoken keys, as a project using TokenAuthentication has them."""
    return {name: Token.objects.create(user=quick_user(name)) for name in ("alice", "bob")}


def test_imported_keys_are_hashed_and_keep_authenticating(api_client, legacy_keys):
    assert run() == "Imported 2 token(s); 0 already present."
    assert StaticToken.objects.count() == 2
    for username, legacy in legacy_keys.items():
        imported = StaticToken.objects.get(user=legacy.user)
        assert imported.name == "imported from DRF authtoken"
        assert imported.created_at == legacy.created
        assert legacy.key not in {imported.digest, imported.prefix}
        assert legacy.key not in imported.digest
        response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {legacy.key}")
        assert response.status_code == 200
        assert response.json()["message"].startswith(f"Hello {username},")
    assert Token.objects.count() == 2  # the originals stay unless asked


def test_import_is_idempotent(legacy_keys):
    run()
    assert run() == "Imported 0 token(s); 2 already present."
    assert StaticToken.objects.count() == 2


def test_delete_originals_removes_the_plaintext_rows(api_client, legacy_keys):
    assert run("--delete-originals") == "Imported 2 token(s); 0 already present."
    assert not Token.objects.exists()
    key = legacy_keys["alice"].key
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_an_imported_key_is_revocable_like_any_static_token(api_client, legacy_keys):
    run("--delete-originals")
    key = legacy_keys["bob"].key
    token = StaticToken.objects.get(user__username="bob")
    assert api_client.delete(f"/api/auth/tokens/{token.pk}/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 204
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401 and response.json()["reason"] == "revoked"


@modify_settings(INSTALLED_APPS={"remove": ["rest_framework.authtoken"]})
def test_refuses_without_drf_authtoken_installed(db):
    with pytest.raises(CommandError, match="rest_framework.authtoken is not in INSTALLED_APPS"):
        run()
