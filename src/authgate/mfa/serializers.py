"""Request and response shapes of the second-factor endpoints (validation and OpenAPI)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ProofSerializer(serializers.Serializer[dict[str, Any]]):
    """A second-factor proof: a `code` (TOTP or recovery code) or a WebAuthn `credential`."""

    code = serializers.CharField(required=False, max_length=64, help_text=_("A TOTP code or a recovery code."))
    credential = serializers.JSONField(required=False, help_text=_("A WebAuthn assertion (credential.toJSON())."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "code" not in attrs and "credential" not in attrs:
            raise serializers.ValidationError({"code": [_("Give a code or a credential.")]})
        if "credential" in attrs and not isinstance(attrs["credential"], dict):
            raise serializers.ValidationError({"credential": [_("Expected a JSON object.")]})
        return attrs


class MFAVerifySerializer(ProofSerializer):
    mfa_token = serializers.CharField(max_length=100)


class ReauthenticateSerializer(ProofSerializer):
    password = serializers.CharField(required=False, trim_whitespace=False, max_length=4096)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "password" in attrs:
            return attrs
        return super().validate(attrs)


class CodeSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(max_length=64)


class MethodSerializer(serializers.Serializer[dict[str, Any]]):
    type = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class MFAStateSerializer(serializers.Serializer[dict[str, Any]]):
    methods = MethodSerializer(many=True)
    recovery_codes_remaining = serializers.IntegerField()


class TOTPSetupSerializer(serializers.Serializer[dict[str, Any]]):
    secret = serializers.CharField(help_text=_("Base32, for manual entry."))
    otpauth_url = serializers.CharField()
    qr_svg = serializers.CharField(help_text=_("An inline SVG of the otpauth:// URI."))


class RecoveryCodesSerializer(serializers.Serializer[dict[str, Any]]):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class ReauthenticatedSerializer(serializers.Serializer[dict[str, Any]]):
    auth_time = serializers.IntegerField(help_text=_("Unix time."))
    amr = serializers.ListField(child=serializers.CharField())
