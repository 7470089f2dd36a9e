"""
Moving over from djangorestframework-simplejwt: a refresh token minted by simplejwt itself
(same signing key) is exchanged once, at the refresh endpoint, for an authgate session —
while the migration is on and before its end date; blacklisted, expired, foreign-key,
access and spent tokens are refused.
"""

from datetime import date, timedelta

import jwt
import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from authgate.models import MigratedToken, Session

from ..conftest import bearer

REFRESH = "/api/auth/token/refresh/"
PROTECTED = "/api/protected/"


def migration(**options):
    conf = {"ENABLED": True, "UNTIL": date.today() + timedelta(days=30), **options}
    return override_settings(AUTHGATE={**(getattr(settings, "AUTHGATE", {}) or {}), "SIMPLEJWT_MIGRATION": conf})


@pytest.fixture
def migrating():
    with migration():
        yield


def exchange(client, token):
    return client.post(REFRESH, {"refresh": str(token)}, format="json")


def assert_refused(response, reason):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == reason, response.json()


def test_a_simplejwt_refresh_token_is_exchanged_once_for_a_session(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    response = exchange(api_client, legacy)
    assert response.status_code == 200, response.content
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert api_client.get(PROTECTED, **bearer(pair["access"])).status_code == 200
    session = Session.objects.get(user=user)
    record = MigratedToken.objects.get(jti=legacy["jti"])
    assert (record.user, record.session) == (user, session)
    # The new refresh token is an authgate one: it rotates as usual.
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200
    # The simplejwt token is spent: also in simplejwt's own blacklist.
    assert BlacklistedToken.objects.filter(token__jti=legacy["jti"]).exists()
    assert_refused(exchange(api_client, legacy), "revoked")
    assert Session.objects.filter(user=user).count() == 1


def test_the_jti_record_alone_refuses_a_second_exchange(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    assert exchange(api_client, legacy).status_code == 200
    BlacklistedToken.objects.all().delete()  # as if simplejwt's blacklist app were not installed
    response = exchange(api_client, legacy)
    assert_refused(response, "revoked")
    assert response.json()["detail"] == "Token has already been exchanged."
    assert Session.objects.filter(user=user).count() == 1


def test_a_token_blacklisted_by_simplejwt_is_refused(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    legacy.blacklist()
    assert_refused(exchange(api_client, legacy), "revoked")
    assert not Session.objects.exists()


def test_nothing_is_exchanged_unless_the_migration_is_on(api_client, user):
    assert_refused(exchange(api_client, RefreshToken.for_user(user)), "malformed")
    assert not Session.objects.exists()


def test_nothing_is_exchanged_after_the_end_date(api_client, user):
    with migration(UNTIL=timezone.now() - timedelta(seconds=1)):
        assert_refused(exchange(api_client, RefreshToken.for_user(user)), "malformed")
    with migration(UNTIL=date.today() - timedelta(days=1)):
        assert_refused(exchange(api_client, RefreshToken.for_user(user)), "malformed")
    assert not Session.objects.exists()


def test_an_access_token_is_not_exchanged(api_client, user, migrating):
    assert_refused(exchange(api_client, AccessToken.for_user(user)), "wrong_type")


def test_an_expired_token_is_refused(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    legacy.set_exp(lifetime=-timedelta(seconds=10))
    assert_refused(exchange(api_client, legacy), "expired")


def test_a_token_signed_with_another_key_is_refused(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    forged = jwt.encode(dict(legacy.payload), "not-the-signing-key-" * 3, algorithm="HS256")
    assert_refused(exchange(api_client, forged), "malformed")
    assert not MigratedToken.objects.exists()


def test_an_inactive_user_is_refused(api_client, user, migrating):
    legacy = RefreshToken.for_user(user)
    user.is_active = False
    user.save()
    assert_refused(exchange(api_client, legacy), "user_inactive")


def test_the_projects_simple_jwt_settings_are_honoured(api_client, user):
    # simplejwt binds its settings at import, so its token is re-signed here as a project
    # with these SIMPLE_JWT settings would have minted it.
    key = "a-separate-simplejwt-key-" * 2
    payload = dict(RefreshToken.for_user(user).payload)
    payload["uid"] = payload.pop("user_id")
    legacy = jwt.encode(payload, key, algorithm="HS256")
    with override_settings(SIMPLE_JWT={"USER_ID_CLAIM": "uid", "SIGNING_KEY": key}), migration():
        assert exchange(api_client, legacy).status_code == 200
    assert Session.objects.filter(user=user).count() == 1


def test_an_enabled_migration_needs_an_end_date():
    with migration(UNTIL=None):
        errors = [message for message in checks.run_checks() if message.id == "authgate.E002"]
    assert len(errors) == 1
    assert "UNTIL" in errors[0].msg


def _issued_a_second_ago(user):
    """A simplejwt refresh token issued a second before now (issue times are whole
    seconds: a cutoff in the same second counts the token as earlier anyway)."""
    legacy = RefreshToken.for_user(user)
    legacy.payload["iat"] = int(legacy.payload["iat"]) - 1
    return legacy


def test_a_token_issued_before_a_password_change_is_refused(api_client, user, migrating):
    legacy = _issued_a_second_ago(user)
    user.set_password("a-new-password-77")
    user.save()
    assert_refused(exchange(api_client, legacy), "revoked")
    assert not Session.objects.exists() and not MigratedToken.objects.exists()


def test_a_token_issued_before_a_logout_everywhere_is_refused(api_client, user, migrating, tokens_for):
    access = tokens_for(user)["access"]
    legacy = _issued_a_second_ago(user)
    assert api_client.post("/api/auth/logout/all/", **bearer(access)).status_code == 200
    assert_refused(exchange(api_client, legacy), "revoked")
    assert not MigratedToken.objects.exists()


def test_a_token_issued_before_an_admins_logout_or_invalidate_all_is_refused(api_client, make_user, migrating):
    from authgate import sessions

    alice, bob = make_user("alice"), make_user("bob")
    legacy_alice, legacy_bob = _issued_a_second_ago(alice), _issued_a_second_ago(bob)
    sessions.end_user_sessions(alice, sessions.ADMIN)  # also what logout_user and the admin do
    assert_refused(exchange(api_client, legacy_alice), "revoked")
    assert exchange(api_client, _issued_a_second_ago(bob)).status_code == 200
    sessions.end_all_sessions()
    assert_refused(exchange(api_client, legacy_bob), "revoked")


def test_a_token_issued_after_the_last_password_change_is_exchanged(api_client, user, migrating):
    from authgate.models import CredentialCutoff

    user.set_password("a-new-password-77")
    user.save()
    # The change a couple of seconds ago (issue times are whole seconds).
    CredentialCutoff.objects.filter(user=user).update(not_before=timezone.now() - timedelta(seconds=2))
    assert exchange(api_client, RefreshToken.for_user(user)).status_code == 200


def test_an_unverified_address_is_refused_when_verification_is_required(api_client, user):
    from authgate import recovery

    legacy = RefreshToken.for_user(user)
    with migration(), override_settings(AUTHGATE={**settings.AUTHGATE, "REQUIRE_EMAIL_VERIFICATION": True}):
        response = exchange(api_client, legacy)
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "email_unverified"
        assert not Session.objects.exists() and not MigratedToken.objects.exists()
        recovery.mark_verified(user)  # once verified, the same token still works: it was not spent
        assert exchange(api_client, legacy).status_code == 200
