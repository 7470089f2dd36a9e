"""
authgate's own signals: declarations only (the receivers, authgate's and Django's, are in
`authgate.receivers`, connected in `AppConfig.ready()`).

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
"""

from django.dispatch import Signal

session_opened = Signal()
session_ended = Signal()
refresh_reuse_detected = Signal()
