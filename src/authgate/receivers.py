"""
Every receiver authgate connects, in one place, connected by `connect()` from
`AppConfig.ready()` (never at import time), each with a `dispatch_uid`.

On the user model:

- its login names (username, email) are kept in the `LoginKey` table on every save, and a
  save that would take another account's name is refused before anything is written
  (`authgate.identity`);
- deactivating a user (`is_active = False` and `save()`, e.g. in the Django admin) ends
  all their sessions and deletes their static tokens for good, before the row is written,
  so re-activating the user later brings no credential back
  (`end_credentials_of_deactivated_user`, the one Python deactivation path).
  `QuerySet.update()` and raw SQL skip receivers; the database trigger of
  `authgate.revocation.triggers` does the same there;
- any change of a user but the login timestamp, and any deletion, is a revocation message
  "u:<pk>" (`revocation`): their sessions leave every process's cache;
- a deletion clears, in its own transaction, the activity rows and the cutoff that a
  session end holding one of the user's sessions wrote while it was under way (Django
  cleared them before it reached the sessions), so that the deletion commits.

A password change (any `set_password()` then `save()`) marks the user's credential cutoff
(`authgate.cutoffs`). A Django login session (the admin's) notes when it began
(`authgate.login_sessions`), so that signing out everywhere ends it too.

Mails queued during a request leave after it (`authgate.mail.outbox`, on Django's
`request_started`/`request_finished`).

(Each module that keeps state built from the settings resets it on `setting_changed`
itself, beside that state: `settings`, `tokens`, `revocation.process`, `factors`.)

The activity trail's (`authgate.activity`): a login's row names the session it opened
(`session_opened`, then Django's `user_logged_in`); a failed login is recorded from Django's
`user_login_failed`.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import user_logged_in, user_login_failed
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_delete, post_save, pre_save

from . import activity, cutoffs, identity, login_sessions, mail, sessions, signals, static_tokens
from .models import Session
from .revocation import get_store, messages


def _touches(update_fields: Iterable[str] | None, fields: Iterable[str]) -> bool:
    return update_fields is None or bool(set(update_fields) & set(fields))


def refuse_a_taken_login_name(
    sender: type, instance: Any, raw: bool = False, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    if not raw and _touches(update_fields, identity.identity_fields(sender)):
        identity.check_available(instance)


def keep_login_keys(
    sender: type,
    instance: Any,
    created: bool,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    if not raw and _touches(update_fields, identity.identity_fields(sender)):
        identity.sync(instance)


def end_credentials_of_deactivated_user(
    sender: type, instance: Any, raw: bool = False, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    if raw or instance._state.adding or getattr(instance, "is_active", True):
        return
    if not _touches(update_fields, ["is_active"]):
        return
    sessions.end_user_sessions(instance, sessions.USER_INACTIVE)
    static_tokens.delete_user_tokens(instance)


# The old name, for code that disconnects it.
revoke_credentials_of_deactivated_user = end_credentials_of_deactivated_user


def forget_changed_user(
    sender: type, instance: Any, created: bool, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    # Any change but the login timestamp: deactivation, password, permissions.
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    get_store().changed([messages.user(instance.pk)])


def forget_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    get_store().changed([messages.user(instance.pk)])


def connect() -> None:
    user_model = settings.AUTH_USER_MODEL
    pre_save.connect(refuse_a_taken_login_name, sender=user_model, dispatch_uid="authgate.login_name_taken")
    post_save.connect(keep_login_keys, sender=user_model, dispatch_uid="authgate.login_keys")
    pre_save.connect(end_credentials_of_deactivated_user, sender=user_model, dispatch_uid="authgate.deactivated")
    post_save.connect(forget_changed_user, sender=user_model, dispatch_uid="authgate.revocation.user_saved")
    post_delete.connect(forget_deleted_user, sender=user_model, dispatch_uid="authgate.revocation.user_deleted")
    post_delete.connect(activity.unlink_deleted_user, sender=user_model, dispatch_uid="authgate.activity.user_deleted")
    post_delete.connect(cutoffs.forget_deleted_user, sender=user_model, dispatch_uid="authgate.cutoffs.user_deleted")
    post_save.connect(cutoffs.password_changed, sender=user_model, dispatch_uid="authgate.cutoffs.password_changed")
    request_started.connect(mail.outbox.request_started, dispatch_uid="authgate.mail.request_started")
    request_finished.connect(mail.outbox.request_finished, dispatch_uid="authgate.mail.request_finished")
    signals.session_opened.connect(
        activity.remember_opened_session, sender=Session, dispatch_uid="authgate.activity.session_opened"
    )
    user_logged_in.connect(activity.login_succeeded, dispatch_uid="authgate.activity.user_logged_in")
    user_logged_in.connect(login_sessions.stamp, dispatch_uid="authgate.login_sessions.stamp")
    user_login_failed.connect(activity.login_failed, dispatch_uid="authgate.activity.user_login_failed")
