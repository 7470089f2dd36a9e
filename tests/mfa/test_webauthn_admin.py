"""The keys in the Django admin: listed without their public key, and support's removal
action (every factor of the keys' users, their sessions ended) offered on the list."""

from django.test import Client

from authgate.mfa.webauthn.models import WebAuthnCredential
from authgate.models import Session
from tests.mfa.soft_authenticator import SoftAuthenticator
from tests.mfa.test_webauthn_api import add_key


def test_staff_see_the_keys_and_remove_their_users_factors(api_client, make_user, tokens_for):
    alice = make_user("alice")
    add_key(api_client, tokens_for(alice)["access"], SoftAuthenticator(), name="YubiKey")
    staff = Client()
    staff.force_login(make_user("root", is_staff=True, is_superuser=True))
    listing = staff.get("/admin/authgate/webauthncredential/")
    assert listing.status_code == 200 and b"YubiKey" in listing.content
    key = WebAuthnCredential.objects.get()
    page = staff.get(f"/admin/authgate/webauthncredential/{key.pk}/change/")
    assert page.status_code == 200 and bytes(key.public_key).hex().encode() not in page.content
    response = staff.post(
        "/admin/authgate/webauthncredential/",
        {"action": "remove_users_factors", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.exists()
    assert not Session.objects.filter(user=alice, ended_at__isnull=True).exists()
