"""Request and response shapes of the HTTP API; validation only, no lifecycle."""
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from . import recovery
from .models import Activity, Session, StaticToken

User = get_user_model()

PASSWORD = {"trim_whitespace": False, "max_length": 4096, "style": {"input_type": "password"}}


class UserSerializer(serializers.ModelSerializer):
    email_verified = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "email_verified", "is_staff"]
        read_only_fields = fields

    def get_email_verified(self, user) -> bool:
        return recovery.is_email_verified(user)


class RegisterSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=4096,
                                     style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        read_only_fields = ["id"]

    def validate_email(self, value):
        return validate_unused_email(value)

    def validate(self, attrs):
        candidate = User(username=attrs.get("username"), email=attrs.get("email"))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def create(self, validated_data):
        return User._default_manager.create_user(
            username=validated_data["username"],
            email=validated_data["email"],
            password=validated_data["password"],
        )


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="Username or email.")
    password = serializers.CharField(trim_whitespace=False, max_length=4096, style={"input_type": "password"})
    device = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cookies = serializers.BooleanField(required=False, default=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginResponseSerializer(serializers.Serializer):
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    session_id = serializers.UUIDField()
    user = UserSerializer()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, max_length=8192,
                                    help_text="Optional in cookie mode (read from the refresh cookie).")


class VerifySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=8192)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, max_length=8192)
    refresh_token = serializers.CharField(required=False, max_length=8192,
                                          help_text="Alias of `refresh`, as some clients send it.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class SessionsEndedSerializer(DetailSerializer):
    sessions_ended = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField(required=False)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False, max_length=4096)
    new_password = serializers.CharField(trim_whitespace=False, max_length=4096)

    def validate_old_password(self, value):
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError("Your old password was entered incorrectly.")
        return value

    def validate_new_password(self, value):
        try:
            password_validation.validate_password(value, self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


def validate_new_password(value, user):
    """Django's password validators, as a DRF field error."""
    try:
        password_validation.validate_password(value, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"new_password": list(exc.messages)}) from None


def validate_unused_email(value, exclude_user=None):
    """Emails are unique case-insensitively."""
    taken = User._default_manager.filter(**{f"{User.get_email_field_name()}__iexact": value})
    if exclude_user is not None:
        taken = taken.exclude(pk=exclude_user.pk)
    if taken.exists():
        raise serializers.ValidationError("A user with that email already exists.")
    return value


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class LinkSerializer(serializers.Serializer):
    """The `uid` and `token` of a reset or verification link."""

    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)


class PasswordResetConfirmSerializer(LinkSerializer):
    new_password = serializers.CharField(**PASSWORD)


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(help_text="The current password.", **PASSWORD)

    def validate_email(self, value):
        return validate_unused_email(value, exclude_user=self.context["request"].user)


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(help_text="The current password.", **PASSWORD)


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "device", "ip", "user_agent", "created_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, session) -> bool:
        return session.id.hex == self.context.get("current_session_id")


class InvalidateAllSerializer(serializers.Serializer):
    include_static_tokens = serializers.BooleanField(required=False, default=False)


class StaticTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    expires_in = serializers.IntegerField(required=False, min_value=1, max_value=10 * 365 * 86400,
                                          allow_null=True, help_text="Seconds until the key expires.")
    username = serializers.CharField(required=False, max_length=254)
    password = serializers.CharField(required=False, trim_whitespace=False, max_length=4096)

    def validate(self, attrs):
        if ("username" in attrs) != ("password" in attrs):
            missing = "password" if "username" in attrs else "username"
            raise serializers.ValidationError({missing: ["This field is required."]})
        return attrs


class StaticTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = StaticToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at"]
        read_only_fields = fields


class StaticTokenCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="The key; shown this once.")
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    redis = serializers.CharField()


class ActivitySerializer(serializers.ModelSerializer):
    """One security event as the user sees it (their own only)."""

    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Activity
        fields = ["id", "kind", "kind_display", "created_at", "reason", "ip", "user_agent", "session_id",
                  "username", "details"]
        read_only_fields = fields
