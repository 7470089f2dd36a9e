"""
The HTTP API's views, split by area: `base` (the base classes and shared helpers), `steps`
(password checks, mails, the login answer, the refresh credential), `auth` (register,
login, refresh, verify, logout), `account` (profile, password change, sessions, activity,
notification preferences), `recovery` (reset and verification links), `tokens` (static
tokens), `admin` (staff only).

Everything is re-exported here: `authgate.api.views.LoginView` — and the old path
`authgate.views.LoginView` — keep working.
"""

from .account import (
    ActivityPagination,
    ActivityView,
    MeView,
    NotificationPreferencesSerializer,
    NotificationPreferencesView,
    PasswordChangeView,
    SessionDetailView,
    SessionListView,
)
from .admin import AdminUserLogoutView, InvalidateAllView
from .auth import LoginView, LogoutAllView, LogoutView, RefreshView, RegisterView, VerifyView
from .base import (
    ERRORS,
    AuthgateAPIView,
    PublicView,
    _current_session_id,
    _failure_clearing_cookies,
    _logged_in,
    _logged_out,
    _open_atomic_blocks,
    _token_error,
    _validated,
)
from .recovery import (
    RESET_REQUESTED,
    EmailVerifyResendView,
    EmailVerifyView,
    PasswordResetConfirmView,
    PasswordResetView,
)
from .steps import (
    _check_current_password,
    _check_password_login,
    _count_refused_refresh,
    _mail_allowed,
    _send_verification_mail,
    login_response,
    refresh_credential,
)
from .tokens import STATIC_KEY_CANNOT_MINT, StaticTokenDetailView, StaticTokenListView

__all__ = [
    "ERRORS",
    "AuthgateAPIView",
    "_open_atomic_blocks",
    "PublicView",
    "_validated",
    "_token_error",
    "_failure_clearing_cookies",
    "_current_session_id",
    "_logged_in",
    "_logged_out",
    "_check_password_login",
    "_check_current_password",
    "_mail_allowed",
    "_send_verification_mail",
    "login_response",
    "_count_refused_refresh",
    "refresh_credential",
    "RegisterView",
    "LoginView",
    "RefreshView",
    "VerifyView",
    "LogoutView",
    "LogoutAllView",
    "MeView",
    "PasswordChangeView",
    "SessionListView",
    "SessionDetailView",
    "NotificationPreferencesSerializer",
    "NotificationPreferencesView",
    "ActivityPagination",
    "ActivityView",
    "RESET_REQUESTED",
    "PasswordResetView",
    "PasswordResetConfirmView",
    "EmailVerifyView",
    "EmailVerifyResendView",
    "STATIC_KEY_CANNOT_MINT",
    "StaticTokenListView",
    "StaticTokenDetailView",
    "InvalidateAllView",
    "AdminUserLogoutView",
]
