"""
Request and response shapes of the HTTP API; validation only, no lifecycle.

Nothing here assumes Django's default user model: the user is named by its
`USERNAME_FIELD` and its email by `EMAIL_FIELD`, so a custom user model (say, email as the
username) works as it is. The login, register and user serializers can be replaced by
setting (`AUTHGATE["LOGIN_SERIALIZER"]`, `"REGISTER_SERIALIZER"`, `"USER_SERIALIZER"`);
subclass the ones below.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from .. import identity, recovery, types
from .fields import TokenField
from ..models import Activity, Session, StaticToken

User = get_user_model()

PASSWORD: dict[str, Any] = {"trim_whitespace": False, "max_length": 4096, "style": {"input_type": "password"}}


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _email_field(model: type[types.User]) -> str | None:
    """The model's email field name, if it has such a field."""
    name = model.get_email_field_name()
    return name if _has_field(model, name) else None


def _read_only(source: str, name: str) -> serializers.ReadOnlyField:
    """The model field `source`, shown as `name` (DRF refuses a `source` equal to the name)."""
    return serializers.ReadOnlyField() if source == name else serializers.ReadOnlyField(source=source)


_EMAIL = _email_field(User)


class UserSerializer(serializers.ModelSerializer[types.User]):
    """The account: `username` is the value of the model's USERNAME_FIELD, `email` of its
    EMAIL_FIELD ("" without one)."""

    # Read from the model's own fields where they exist, so that the schema has their types.
    id = _read_only(User._meta.pk.name, "id")
    username = _read_only(User.USERNAME_FIELD, "username")
    email = _read_only(_EMAIL, "email") if _EMAIL else serializers.SerializerMethodField()
    email_verified = serializers.SerializerMethodField()
    pending_email = serializers.SerializerMethodField(
        help_text=_('An address asked for, that becomes the email once the link mailed to it is used; "" when none.')
    )
    is_staff = (
        _read_only("is_staff", "is_staff") if _has_field(User, "is_staff") else serializers.SerializerMethodField()
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "email_verified", "pending_email", "is_staff"]

    def get_email(self, user: types.User) -> str:
        return ""

    def get_is_staff(self, user: types.User) -> bool:
        return False

    def get_email_verified(self, user: types.User) -> bool:
        return self._email_status(user)[0]

    def get_pending_email(self, user: types.User) -> str:
        return self._email_status(user)[1]

    def _email_status(self, user: types.User) -> tuple[bool, str]:
        """Both email fields from one read of the address row (per user represented)."""
        memo: tuple[types.User, tuple[bool, str]] | None = self.__dict__.get("_authgate_email_status")
        if memo is None or memo[0] is not user:
            memo = self.__dict__["_authgate_email_status"] = (user, recovery.email_status(user))
        return memo[1]


class RegisteredUserSerializer(UserSerializer):
    """The answer to a registration: id, username, email."""

    class Meta(UserSerializer.Meta):
        fields = ["id", "username", "email"]


def _account_field_names(model: type[types.User]) -> list[str]:
    """What a registration asks for: the USERNAME_FIELD, the email, the REQUIRED_FIELDS."""
    names = [model.USERNAME_FIELD, _email_field(model), *model.REQUIRED_FIELDS]
    return list(dict.fromkeys(name for name in names if name))


class RegisterSerializer(serializers.ModelSerializer[types.User]):
    """A new account: the USERNAME_FIELD, the email (required, and unique whatever its
    case), the user model's REQUIRED_FIELDS, and a password that AUTH_PASSWORD_VALIDATORS
    accept."""

    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=4096, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = ["id", *_account_field_names(User), "password"]
        read_only_fields = ["id"]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        email = _email_field(self.Meta.model)
        if email:
            if email != self.Meta.model.USERNAME_FIELD:  # Django's default user: optional on the model
                fields[email] = serializers.EmailField(max_length=254)
            fields[email].validators.append(_refuse_taken_email)
        if self.Meta.model.USERNAME_FIELD != email:
            fields[self.Meta.model.USERNAME_FIELD].validators.append(_refuse_taken_username)
        lookups = (_refuse_taken_email, _refuse_taken_username)
        for field in fields.values():
            # Ours is a superset of the model's exact-match UniqueValidator: one message, not two.
            ours = any(v in lookups for v in field.validators)
            kept = [v for v in field.validators if not (ours and isinstance(v, UniqueValidator))]
            field.validators = [
                _OnStorableText(v) if v in lookups or isinstance(v, UniqueValidator) else v for v in kept
            ]
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = self.Meta.model(**{name: value for name, value in attrs.items() if name != "password"})
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def create(self, validated_data: dict[str, Any]) -> types.User:
        try:
            with transaction.atomic():
                # With those fields as keywords, as `createsuperuser` calls `create_superuser()`.
                return self.Meta.model._default_manager.create_user(**validated_data)
        except IntegrityError:
            # A concurrent registration took the name between validation and insert.
            raise serializers.ValidationError({self.Meta.model.USERNAME_FIELD: [USERNAME_TAKEN]}) from None


class LoginSerializer(serializers.Serializer[dict[str, Any]]):
    """`username` (the username or the email) and `password`."""

    # With a custom user model the username may also come under the USERNAME_FIELD's own
    # name (`{"email": ..., "password": ...}`), as simplejwt clients send it; the validated
    # data always has `username`.

    username = serializers.CharField(max_length=254, help_text=_("Username or email."))
    password = serializers.CharField(trim_whitespace=False, max_length=4096, style={"input_type": "password"})
    device = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cookies = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        username_field = get_user_model().USERNAME_FIELD
        if isinstance(data, (dict, QueryDict)) and "username" not in data and username_field in data:
            data = data.copy()
            data["username"] = data[username_field]
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated


class TokenPairSerializer(serializers.Serializer[dict[str, Any]]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginResponseSerializer(serializers.Serializer[dict[str, Any]]):
    access = serializers.CharField(required=False, help_text=_("Absent in cookie mode."))
    refresh = serializers.CharField(required=False, help_text=_("Absent in cookie mode."))
    session_id = serializers.UUIDField()
    user = UserSerializer()


class RefreshSerializer(serializers.Serializer[dict[str, Any]]):
    refresh = TokenField(
        required=False, max_length=8192, help_text=_("Optional in cookie mode (read from the refresh cookie).")
    )


class VerifySerializer(serializers.Serializer[dict[str, Any]]):
    token = TokenField(max_length=8192)


class LogoutSerializer(serializers.Serializer[dict[str, Any]]):
    refresh = TokenField(required=False, max_length=8192)
    refresh_token = TokenField(
        required=False, max_length=8192, help_text=_("Alias of `refresh`, as some clients send it.")
    )


class DetailSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()


class SessionsEndedSerializer(DetailSerializer):
    sessions_ended = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField(required=False)


class PasswordChangeSerializer(serializers.Serializer[dict[str, Any]]):
    old_password = serializers.CharField(trim_whitespace=False, max_length=4096)
    new_password = serializers.CharField(trim_whitespace=False, max_length=4096)

    def validate_new_password(self, value: str) -> str:
        try:
            password_validation.validate_password(value, self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


def validate_new_password(value: str, user: types.User | None) -> None:
    """Django's password validators, as a DRF field error."""
    try:
        password_validation.validate_password(value, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"new_password": list(exc.messages)}) from None


# One login name per account, whatever its case or width, no username that looks like
# another's (REFUSE_CONFUSABLE_USERNAMES), and an email never another account's username
# (nor the reverse): see authgate.identity.
USERNAME_TAKEN = _("A user with that username already exists.")


def validate_unused_username(value: str, exclude_user: types.User | None = None) -> str:
    """Usernames are unique case- and width-insensitively, never look like another account's
    username (REFUSE_CONFUSABLE_USERNAMES), and are never another account's email."""
    if identity.username_taken(value, exclude_user):
        raise serializers.ValidationError(USERNAME_TAKEN)
    return value


def validate_unused_email(value: str, exclude_user: types.User | None = None) -> str:
    """Emails are unique case- and width-insensitively, and never another account's username."""
    if identity.taken(value, exclude_user):
        raise serializers.ValidationError(_("A user with that email already exists."))
    return value


# As field validators (whose return value DRF ignores).
def _refuse_taken_username(value: str) -> None:
    validate_unused_username(value)


def _refuse_taken_email(value: str) -> None:
    validate_unused_email(value)


class _OnStorableText:
    """A validator that looks the value up in the database, run only on text a database can
    be asked about: DRF runs every validator of a field, and the field's own refuse a NUL
    (PostgreSQL takes none) or a lone surrogate (no UTF-8) as a field error, but do not keep
    the lookup from failing on them (a 500)."""

    def __init__(self, validator: Any) -> None:
        self.validator, self.requires_context = validator, getattr(validator, "requires_context", False)

    def __call__(self, value: Any, *context: Any) -> None:
        if not isinstance(value, str) or ("\x00" not in value and value.encode(errors="replace").decode() == value):
            self.validator(value, *context)


class PasswordResetSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField(max_length=254)


class LinkSerializer(serializers.Serializer[dict[str, Any]]):
    """The `uid` and `token` of a reset or verification link."""

    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)


class PasswordResetConfirmSerializer(LinkSerializer):
    new_password = serializers.CharField(**PASSWORD)


class EmailChangeSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(help_text="The current password.", **PASSWORD)

    def validate_email(self, value: str) -> str:
        return validate_unused_email(value, exclude_user=self.context["request"].user)


class AccountDeleteSerializer(serializers.Serializer[dict[str, Any]]):
    password = serializers.CharField(help_text="The current password.", **PASSWORD)


class SessionSerializer(serializers.ModelSerializer[Session]):
    current = serializers.SerializerMethodField()
    amr = serializers.SerializerMethodField(help_text=_("How the session last authenticated (RFC 8176)."))
    auth_time = serializers.SerializerMethodField(help_text=_("When it last authenticated."))

    class Meta:
        model = Session
        fields = ["id", "device", "ip", "user_agent", "created_at", "last_used_at", "current", "amr", "auth_time"]
        read_only_fields = fields

    def get_current(self, session: Session) -> bool:
        return session.id.hex == self.context.get("current_session_id")

    def get_amr(self, session: Session) -> list[str]:
        return session.amr_values

    def get_auth_time(self, session: Session) -> datetime:
        return session.authenticated_at


class InvalidateAllSerializer(serializers.Serializer[dict[str, Any]]):
    include_static_tokens = serializers.BooleanField(required=False, default=False)


class StaticTokenCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    expires_in = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=10 * 365 * 86400,
        allow_null=True,
        help_text=_("Seconds until the key expires."),
    )
    username = serializers.CharField(required=False, max_length=254)
    password = serializers.CharField(required=False, trim_whitespace=False, max_length=4096)
    code = serializers.CharField(
        required=False, max_length=64, help_text=_("With username/password, for an account with a second factor.")
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("username" in attrs) != ("password" in attrs):
            missing = "password" if "username" in attrs else "username"
            raise serializers.ValidationError({missing: [_("This field is required.")]})
        return attrs


class StaticTokenSerializer(serializers.ModelSerializer[StaticToken]):
    class Meta:
        model = StaticToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at"]
        read_only_fields = fields


class StaticTokenCreatedSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text=_("The key; shown this once."))
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    """One security event as the user sees it (their own only)."""

    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "kind_display",
            "created_at",
            "reason",
            "ip",
            "user_agent",
            "session_id",
            "username",
            "details",
        ]
        read_only_fields = fields
