"""
Account recovery and email verification: what a reset or verification link is, and what
using one does (and the two other account steps that need the password: changing the
email address and deleting the account).

An email change is pending until proved: `request_email_change()` parks the new address on
the user's EmailAddress row, where it is no login name and blocks no one (another account
may register or verify it meanwhile); the link mailed to it carries a token of its own salt
that hashes the pending address and when it was asked for, so a newer request kills the
older link. Using it (`use_verification_link()`) re-checks, through `authgate.identity`,
that no other account holds the address at that moment (else `EmailTaken`, nothing
changed), then makes it the user's email, whose save rebuilds the login keys.

Links are Django's own. A reset link carries `PasswordResetTokenGenerator`'s token, which
hashes the password and the last login: it stops working once used (the password
changed) and after PASSWORD_RESET_TIMEOUT. A verification link carries the token of a
separately salted subclass whose hash includes the address and its verified state, so it
stops working once used or when the address changes. The uid is the urlsafe-base64
primary key, as in django.contrib.auth. Works with any user model (`get_user_model()`,
its EMAIL_FIELD).

Views call these functions; ending sessions goes through `sessions`, the one place where
sessions end. Each step is written to the activity trail; other apps can listen to the
signals below.
"""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from . import activity, identity, links, names, sessions, static_tokens
from .errors import EmailTaken, EmailUnverified, InvalidLink
from .models import Activity, EmailAddress
from .conf import api_settings
from .net import remember_request
from .types import User

logger = logging.getLogger("authgate.recovery")

# Hooks for other apps; each is sent with `sender=<user model>, user=..., request=...`.
password_reset = Signal()  # a reset link set a new password (every session was ended)
email_verified = Signal()  # a verification link proved the address
# Marks a user whose address this save changes and whose previous address the caller
# tells itself (rate-limited): the notifications' receivers then stay quiet for that save.
EMAIL_CHANGE_TOLD = "_authgate_email_change_told"
email_changed = Signal()  # the user changed their address (also `old_email`)
account_deleted = Signal()  # sent before the user row is deleted

# Why sessions ended (Session.end_reason).
PASSWORD_RESET = "password_reset"
ACCOUNT_DELETED = "account_deleted"


# -- the address and its verified state ------------------------------------------------------
def email_of(user: User) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


def _record(user: User) -> EmailAddress | None:
    """The user's EmailAddress row, or None. Read each time, never remembered on the user
    object: a user may be cached across requests, and a verification must show at once."""
    return EmailAddress.objects.filter(user=user).first() if user.pk else None


def is_email_verified(user: User) -> bool:
    record = _record(user)
    return bool(record and record.proves(email_of(user)))


def mark_verified(user: User) -> EmailAddress:
    record, _ = EmailAddress.objects.update_or_create(
        user=user, defaults={"email": email_of(user), "verified_at": timezone.now()}
    )
    return record


def require_verified_email(user: User) -> None:
    """With REQUIRE_EMAIL_VERIFICATION, refuse a login (whose password was right) of an
    account whose address is not verified yet."""
    if api_settings.REQUIRE_EMAIL_VERIFICATION and not is_email_verified(user):
        raise EmailUnverified()


# -- links ---------------------------------------------------------------------------------
class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, salted apart and hashing what verification changes: a token
    for one address cannot verify another, and using it once makes it worthless."""

    key_salt = "authgate.recovery.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        record = _record(user)
        verified = record.verified_at.isoformat() if record and record.verified_at else ""
        return f"{user.pk}|{names.fold(email_of(user))}|{verified}|{user.is_active}|{timestamp}"


class PendingEmailTokenGenerator(PasswordResetTokenGenerator):
    """The token of a link that proves a pending address: salted apart from the plain
    verification link (a link mailed to the current address never confirms the pending
    one), hashing the pending address and when it was asked for."""

    key_salt = "authgate.recovery.PendingEmailTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        record = _record(user)
        pending = names.fold(record.pending_email) if record and record.pending_email else ""
        since = record.pending_since.isoformat() if record and record.pending_since else ""
        return f"{user.pk}|{names.fold(email_of(user))}|{pending}|{since}|{user.is_active}|{timestamp}"


reset_token_generator = default_token_generator
verification_token_generator = EmailVerificationTokenGenerator()
pending_email_token_generator = PendingEmailTokenGenerator()


def encode_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_for_uid(uid: str) -> User | None:
    """The user a uid names, or None (never an exception for a hostile uid)."""
    try:
        pk = force_str(urlsafe_base64_decode(uid))
        return get_user_model()._default_manager.get(pk=pk)
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError, ValidationError, get_user_model().DoesNotExist):
        return None


def _link(request: HttpRequest | None, template: str, user: User, generator: PasswordResetTokenGenerator) -> str:
    url = template.format(uid=encode_uid(user), token=generator.make_token(user))
    # Only to a configured origin: a forged Host (or port) cannot redirect it (authgate.links).
    return links.absolute(request, url)


def reset_link(request: HttpRequest | None, user: User) -> str:
    return _link(request, api_settings.PASSWORD_RESET_URL, user, reset_token_generator)


def verification_link(request: HttpRequest | None, user: User) -> str:
    return _link(request, api_settings.EMAIL_VERIFY_URL, user, verification_token_generator)


def pending_email_link(request: HttpRequest | None, user: User) -> str:
    """The link that proves the user's pending address (the same verification page)."""
    return _link(request, api_settings.EMAIL_VERIFY_URL, user, pending_email_token_generator)


def pending_email_of(user: User) -> str:
    """The address the user asked to change to, not yet proved ("" when none)."""
    record = _record(user)
    return record.pending_email if record else ""


def email_status(user: User) -> tuple[bool, str]:
    """(`is_email_verified(user)`, `pending_email_of(user)`) from one read of the row."""
    record = _record(user)
    return bool(record and record.proves(email_of(user))), record.pending_email if record else ""


def _user_for_link(uid: str, token: str, generator: PasswordResetTokenGenerator) -> User:
    user = user_for_uid(uid)
    if user is None or not user.is_active or not generator.check_token(user, token):
        raise InvalidLink()
    return user


def user_for_reset_link(uid: str, token: str) -> User:
    """The user of a valid reset link, else InvalidLink (400 `invalid_link`)."""
    return _user_for_link(uid, token, reset_token_generator)


def user_for_verification_link(uid: str, token: str) -> User:
    return _user_for_link(uid, token, verification_token_generator)


def users_for_reset(email: str) -> list[User]:
    """The active user with this address and a usable password (as Django's
    PasswordResetForm), found through the canonical login key (`identity`), as login and
    the mail limit find it: never by the database's own case-insensitive match."""
    user = identity.account_with_email(email)
    if user is None or not user.is_active or not user.has_usable_password():
        return []
    return [user]


def stand_in_user(email: str) -> User:
    """An unsaved user for an address no account has: the reset answer renders and hands
    on a mail for it all the same (and drops it), so that it costs the same time."""
    user = get_user_model()()
    setattr(user, user.get_email_field_name(), email)
    user.set_unusable_password()
    return user


# -- what using a link does ------------------------------------------------------------------
def reset_password(user: User, new_password: str, request: HttpRequest | None = None) -> int:
    """Set the password from a reset link and end every session of the user; returns how
    many ended. The link proved the mailbox, so the address counts as verified too."""
    with transaction.atomic():
        proves_address = bool(email_of(user))
        user.set_password(new_password)
        remember_request(user, request)  # the password-changed notice names this device
        user.save(update_fields=["password"])
        if proves_address:
            mark_verified(user)
        activity.record(Activity.PASSWORD_RESET, user=user, request=request)
        ended = sessions.end_user_sessions(user, PASSWORD_RESET)
    password_reset.send(sender=type(user), user=user, request=request)
    return ended


def verify_email(user: User, request: HttpRequest | None = None) -> None:
    mark_verified(user)
    activity.record(Activity.EMAIL_VERIFIED, user=user, request=request)
    email_verified.send(sender=type(user), user=user, request=request)


def request_email_change(user: User, new_email: str) -> None:
    """Park `new_email` as the user's pending address (replacing any older one, whose link
    dies); the account's email and login names stay as they are."""
    EmailAddress.objects.update_or_create(
        user=user,
        defaults={"pending_email": new_email, "pending_since": timezone.now()},
        create_defaults={"email": email_of(user), "pending_email": new_email, "pending_since": timezone.now()},
    )


def cancel_email_change(user: User) -> None:
    """Drop the pending address, if any (its link dies)."""
    EmailAddress.objects.filter(user=user).exclude(pending_email="").update(pending_email="", pending_since=None)


def use_verification_link(uid: str, token: str, request: HttpRequest | None = None) -> tuple[User, str | None]:
    """Use an email verification link and return (user, previous address): one mailed to
    a pending address makes it the user's email, one mailed to the current address
    verifies it (previous address None). InvalidLink for anything else; EmailTaken,
    changing nothing, when another account holds the pending address by now."""
    user = user_for_uid(uid)
    if user is not None and user.is_active and pending_email_token_generator.check_token(user, token):
        return user, confirm_pending_email(user, request=request)
    user = _user_for_link(uid, token, verification_token_generator)
    verify_email(user, request=request)
    return user, None


def confirm_pending_email(user: User, request: HttpRequest | None = None) -> str:
    """Make the pending address the user's email and a login name, verified; returns the
    previous address."""
    field = user.get_email_field_name()
    old_email = email_of(user)
    try:
        with transaction.atomic():
            record = EmailAddress.objects.select_for_update().get(user=user)
            new_email = record.pending_email
            if not new_email:
                raise InvalidLink()
            if identity.taken(new_email, user):
                raise EmailTaken()
            setattr(user, field, new_email)
            setattr(user, EMAIL_CHANGE_TOLD, True)  # the view tells the old address itself
            user.save(update_fields=[field])  # the receivers check and rebuild the login keys
            record.email, record.verified_at = new_email, timezone.now()
            record.pending_email, record.pending_since = "", None
            record.save(update_fields=["email", "verified_at", "pending_email", "pending_since"])
            activity.record(Activity.EMAIL_VERIFIED, user=user, request=request)
    except IntegrityError:  # taken between the check and the save: the UNIQUE key says so
        setattr(user, field, old_email)
        raise EmailTaken() from None
    email_changed.send(sender=type(user), user=user, request=request, old_email=old_email)
    email_verified.send(sender=type(user), user=user, request=request)
    return old_email


def delete_account(user: User, request: HttpRequest | None = None) -> int:
    """End every session, delete the static tokens, then the user. The sessions end in a
    transaction of their own first, so that the activity trail records them while the
    user still exists (its rows outlive the account, with the username)."""
    account_deleted.send(sender=type(user), user=user, request=request)
    ended = sessions.end_user_sessions(user, ACCOUNT_DELETED)
    with transaction.atomic():
        static_tokens.delete_user_tokens(user)
        user.delete()
    logger.info("Account deleted; %d session(s) ended.", ended)
    return ended
