"""
authgate's own signals, and its receivers of Django's.

Signals a project may subscribe to (all sent with `sender=authgate.models.Session`):

- `session_opened(session, user, request)`: a login opened a session. `request` is the
  Django `HttpRequest`, or None when the session was opened outside a request.
- `session_ended(session_id, user_id, reason)`: one per ended session, after the
  transaction that ended it commits (a rolled-back end sends nothing). `reason` is the
  session's `end_reason`: "logout", "logout_all", "password_changed", "password_reset",
  "account_deleted", "user_inactive", "admin", "invalidate_all" or "reuse_detected".
- `refresh_reuse_detected(session, user_id)`: a refresh token that had already been
  spent was presented again; the session is being ended (a `session_ended` with reason
  "reuse_detected" follows). Sent at once, so an alert fires even if the request's
  transaction is rolled back.

Django's own `user_logged_in`, `user_logged_out` and `user_login_failed` are sent by the
views, as `django.contrib.auth.login()`/`logout()`/`authenticate()` send them.

Receivers here, on the user model:

- its login names (username, email) are kept in the `LoginKey` table on every save, and a
  save that would take another account's name is refused before anything is written
  (`authgate.identity`);
- deactivating a user (`is_active = False` and `save()`, e.g. in the Django admin) ends
  all their sessions and deletes their static tokens for good, before the row is written,
  so re-activating the user later brings no credential back. `QuerySet.update()` and raw
  SQL skip these receivers; the database trigger of `authgate.triggers` does the same there.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal, receiver

session_opened = Signal()
session_ended = Signal()
refresh_reuse_detected = Signal()


def _touches(update_fields: Iterable[str] | None, fields: Iterable[str]) -> bool:
    return update_fields is None or bool(set(update_fields) & set(fields))


# identity, sessions and static_tokens import modules that send this module's signals:
# the receivers import them lazily.
@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def refuse_a_taken_login_name(
    sender: type, instance: Any, raw: bool = False, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    from . import identity

    if not raw and _touches(update_fields, identity.identity_fields(sender)):
        identity.check_available(instance)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def keep_login_keys(
    sender: type,
    instance: Any,
    created: bool,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    from . import identity

    if not raw and _touches(update_fields, identity.identity_fields(sender)):
        identity.sync(instance)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def revoke_credentials_of_deactivated_user(
    sender: type, instance: Any, raw: bool = False, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    if raw or instance._state.adding or getattr(instance, "is_active", True):
        return
    if not _touches(update_fields, ["is_active"]):
        return
    from . import sessions, static_tokens

    sessions.end_user_sessions(instance, sessions.USER_INACTIVE)
    static_tokens.delete_user_tokens(instance)
