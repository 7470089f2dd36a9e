"""The login, register and user serializers are settings (import strings or classes)."""

from django.test import override_settings
from rest_framework import serializers

from authgate.serializers import LoginSerializer, RegisterSerializer, UserSerializer

from ..conftest import PASSWORD, bearer, login


class SignupSerializer(RegisterSerializer):
    class Meta(RegisterSerializer.Meta):
        fields = [*RegisterSerializer.Meta.fields, "first_name"]
        extra_kwargs = {"first_name": {"required": True, "allow_blank": False}}


class AccountSerializer(UserSerializer):
    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "first_name"]


class DeviceRequiredLoginSerializer(LoginSerializer):
    device = serializers.CharField(max_length=200)


SETTINGS = {
    "REGISTER_SERIALIZER": "tests.core.test_serializer_settings.SignupSerializer",
    "USER_SERIALIZER": AccountSerializer,
    "LOGIN_SERIALIZER": "tests.core.test_serializer_settings.DeviceRequiredLoginSerializer",
}


def test_the_configured_serializers_are_used(api_client, db):
    with override_settings(AUTHGATE=SETTINGS):
        missing = api_client.post(
            "/api/auth/register/",
            {"username": "carol", "email": "carol@example.com", "password": PASSWORD},
            format="json",
        )
        assert missing.status_code == 400
        assert set(missing.json()) == {"first_name"}
        created = api_client.post(
            "/api/auth/register/",
            {"username": "carol", "email": "carol@example.com", "password": PASSWORD, "first_name": "Carol"},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert login(api_client, "carol").status_code == 400  # no device
        body = login(api_client, "carol", device="laptop").json()
        assert body["user"]["first_name"] == "Carol"
        me = api_client.get("/api/auth/me/", **bearer(body["access"])).json()
        assert me == {
            "id": created.json()["id"],
            "username": "carol",
            "email": "carol@example.com",
            "email_verified": False,
            "pending_email": "",
            "is_staff": False,
            "first_name": "Carol",
        }


def test_the_defaults_are_back_after_the_override(api_client, user):
    body = login(api_client).json()
    assert set(body["user"]) == {"id", "username", "email", "email_verified", "pending_email", "is_staff"}
