"""
Credential cutoffs: the moment a user last signed out everywhere, for credentials that
authgate did not issue and cannot end one by one (simplejwt refresh tokens presented for
exchange while a migration from simplejwt is on), and for logins still waiting for their
second factor (`authgate.factors.pending`).

Invariants:
- every way of signing a user out everywhere marks the cutoff: logout everywhere, an
  admin's logout of the user (both through `sessions.end_user_sessions`), and every
  password change — the API's change and reset, the Django admin's form, `changepassword`,
  any `set_password()` followed by `save()` (heard on the user model's `post_save`);
- an invalidate-all marks the cutoff of every user at once (the row without a user);
- a credential issued at or before the cutoff's second is refused (issue times are whole
  seconds, so a tie counts as before).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from .models import CredentialCutoff
from .types import User


def mark(user: User, at: datetime | None = None) -> None:
    """Credentials of `user` issued until now (or `at`) no longer open anything."""
    if user is None or user.pk is None:
        return
    CredentialCutoff.objects.update_or_create(user_id=user.pk, defaults={"not_before": at or timezone.now()})


def mark_everyone(at: datetime | None = None) -> None:
    """Credentials of every user issued until now no longer open anything (invalidate-all)."""
    at = at or timezone.now()
    if not CredentialCutoff.objects.filter(user__isnull=True).update(not_before=at):
        CredentialCutoff.objects.create(user=None, not_before=at)


def not_before(user: User) -> datetime | None:
    """The latest cutoff that applies to `user` (their own or everyone's), or None."""
    return not_before_pk(user.pk)


def not_before_pk(pk: Any) -> datetime | None:
    """`not_before()` of the user whose primary key is `pk`."""
    latest: datetime | None = CredentialCutoff.objects.filter(Q(user_id=pk) | Q(user__isnull=True)).aggregate(
        latest=Max("not_before")
    )["latest"]
    return latest


def issued_before_cutoff(user: User, issued_at: int | float | None) -> bool:
    """Whether a credential of `user` issued at Unix time `issued_at` predates their cutoff.
    A credential without an issue time counts as issued before any cutoff."""
    cutoff = not_before(user)
    if cutoff is None:
        return False
    if issued_at is None:
        return True
    return int(issued_at) <= int(cutoff.timestamp())


def password_changed(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # AbstractBaseUser.set_password() keeps the new raw password in `_password` until the
    # save that stores its hash is done: that save is a password change.
    if not raw and not created and getattr(instance, "_password", None) is not None:
        mark(instance)


def forget_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    # A cutoff marked while the user's deletion was under way (after Django deleted theirs):
    # deleted too, in the deletion's transaction, so that the deletion commits.
    CredentialCutoff.objects.filter(user_id=instance.pk).delete()
