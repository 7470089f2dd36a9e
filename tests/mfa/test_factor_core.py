"""The factor core: TOTP secrets encrypted at rest, codes accepted once, recovery codes
hashed and single-use, pending logins single-use, and the provider registry."""

import time

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from authgate.mfa import crypto, pending, providers, recovery_codes, totp
from authgate.mfa.models import PendingLogin, RecoveryCode, TOTPDevice


def enrolled(user):
    device, secret = totp.start_setup(user)
    assert totp.confirm(device, pyotp.TOTP(secret).now())
    device.refresh_from_db()
    return device, secret


def next_step_code(secret):
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_a_totp_secret_is_stored_encrypted_never_in_plaintext(user):
    device, secret = totp.start_setup(user)
    stored = TOTPDevice.objects.get(pk=device.pk).encrypted_secret
    assert secret not in stored
    assert crypto.decrypt(stored) == secret


def test_secrets_stay_readable_when_a_new_encryption_key_is_put_first(user, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.AUTHGATE = {**getattr(settings, "AUTHGATE", {}), "MFA_ENCRYPTION_KEYS": [old]}
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    settings.AUTHGATE = {**settings.AUTHGATE, "MFA_ENCRYPTION_KEYS": [new, old]}
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"
    settings.AUTHGATE = {**settings.AUTHGATE, "MFA_ENCRYPTION_KEYS": [new]}
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(token)


def test_a_totp_code_is_accepted_once_and_refused_again(user):
    device, secret = enrolled(user)
    code = next_step_code(secret)
    provider = providers.get("totp")
    assert provider.verify(user, None, {"code": code}) == "otp"
    with pytest.raises(providers.InvalidProof):
        provider.verify(user, None, {"code": code})


def test_a_wrong_totp_code_is_refused(user):
    device, secret = enrolled(user)
    wrong = f"{(int(next_step_code(secret)) + 1) % 1000000:06d}"
    with pytest.raises(providers.InvalidProof):
        providers.verify(user, None, {"code": wrong})


def test_a_code_one_step_old_is_accepted_but_not_two_steps(user):
    device, secret = totp.start_setup(user)
    now = time.time()
    assert totp.matching_step(secret, pyotp.TOTP(secret).at(now - 30), now) is not None
    assert totp.matching_step(secret, pyotp.TOTP(secret).at(now - 90), now) is None


def test_a_recovery_code_works_once_and_is_stored_hashed(user):
    enrolled(user)
    codes = recovery_codes.issue(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
    assert all(code.replace("-", "") not in "".join(stored) for code in codes)
    assert providers.verify(user, None, {"code": codes[0].upper()})[0] == "otp"
    with pytest.raises(providers.InvalidProof):
        providers.verify(user, None, {"code": codes[0]})
    assert recovery_codes.remaining(user) == 9


def test_a_new_set_of_recovery_codes_ends_the_old_set(user):
    old = recovery_codes.issue(user)
    recovery_codes.issue(user)
    with pytest.raises(providers.InvalidProof):
        providers.verify(user, None, {"code": old[1]})


def test_an_account_has_a_factor_only_once_totp_is_confirmed(user):
    device, secret = totp.start_setup(user)
    assert not providers.has_factor(user)
    assert totp.confirm(device, pyotp.TOTP(secret).now())
    assert providers.has_factor(user)
    assert [m["type"] for m in providers.methods(user)] == ["totp"]


def test_a_registered_provider_is_asked_for_proofs_it_recognises(user):
    class Fixed(providers.FactorProvider):
        type = "fixed"

        def methods(self, user):
            return [{"type": "fixed", "id": 1, "name": "Fixed", "created_at": None, "last_used_at": None}]

        def challenge(self, user, request):
            return {"fixed": {"hint": "say please"}}

        def verify(self, user, request, data):
            if "credential" not in data:
                return None
            if data["credential"] != "please":
                raise providers.InvalidProof("rude")
            return "hwk"

    providers.register(Fixed())
    try:
        assert providers.has_factor(user)
        assert providers.challenges(user, None) == {"fixed": {"hint": "say please"}}
        assert providers.verify(user, None, {"credential": "please"})[0] == "hwk"
        with pytest.raises(providers.InvalidProof):
            providers.verify(user, None, {"credential": "now"})
    finally:
        providers.unregister("fixed")
    assert not providers.has_factor(user)


def test_a_pending_login_is_spent_once(user):
    started = pending.start(user, None, cookies=True, device="phone")
    row = pending.find(started.token)
    assert row.cookies and row.device == "phone"
    assert PendingLogin.objects.filter(digest=started.token).count() == 0  # only its hash is stored
    pending.spend(row)
    with pytest.raises(pending.PendingLoginInvalid):
        pending.find(started.token)


def test_a_pending_login_dies_after_five_checks(user):
    started = pending.start(user, None)
    row = pending.find(started.token)
    for _ in range(PendingLogin.MAX_ATTEMPTS):
        pending.reserve_attempt(row, started.token)
    with pytest.raises(pending.PendingLoginInvalid):
        pending.reserve_attempt(row, started.token)
    with pytest.raises(pending.PendingLoginInvalid):
        pending.find(started.token)


@override_settings(AUTHGATE={"MFA_TOKEN_LIFETIME": 0})
def test_an_expired_pending_login_is_refused(user):
    started = pending.start(user, None)
    with pytest.raises(pending.PendingLoginInvalid):
        pending.find(started.token)
