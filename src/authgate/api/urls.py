"""URLs of the authgate API; include under `api/auth/`."""

from django.urls import path

from . import oauth, views
from .views import mfa as mfa_views
from .views import webauthn as webauthn_views

app_name = "authgate"

urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("token/refresh/", views.RefreshView.as_view(), name="token-refresh"),
    path("token/verify/", views.VerifyView.as_view(), name="token-verify"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/all/", views.LogoutAllView.as_view(), name="logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/confirm/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("email/verify/", views.EmailVerifyView.as_view(), name="email-verify"),
    path("email/verify/resend/", views.EmailVerifyResendView.as_view(), name="email-verify-resend"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("activity/", views.ActivityView.as_view(), name="activity"),
    path("notifications/", views.NotificationPreferencesView.as_view(), name="notifications"),
    path("tokens/", views.StaticTokenListView.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", views.StaticTokenDetailView.as_view(), name="token-detail"),
    path("admin/invalidate-all-tokens/", views.InvalidateAllView.as_view(), name="invalidate-all"),
    path("admin/users/<int:user_id>/logout/", views.AdminUserLogoutView.as_view(), name="admin-user-logout"),
    # Second factors and recent authentication.
    path("mfa/", mfa_views.MFAView.as_view(), name="mfa"),
    path("mfa/verify/", mfa_views.MFAVerifyView.as_view(), name="mfa-verify"),
    path("mfa/totp/", mfa_views.TOTPView.as_view(), name="mfa-totp"),
    path("mfa/totp/confirm/", mfa_views.TOTPConfirmView.as_view(), name="mfa-totp-confirm"),
    path("mfa/recovery-codes/", mfa_views.RecoveryCodesView.as_view(), name="mfa-recovery-codes"),
    path("reauthenticate/", mfa_views.ReauthenticateView.as_view(), name="reauthenticate"),
    # WebAuthn: security keys and passkeys (second factor, passwordless login).
    path("mfa/webauthn/register/begin/", webauthn_views.RegisterBeginView.as_view(), name="webauthn-register-begin"),
    path(
        "mfa/webauthn/register/complete/",
        webauthn_views.RegisterCompleteView.as_view(),
        name="webauthn-register-complete",
    ),
    path("mfa/webauthn/<int:credential_id>/", webauthn_views.CredentialDetailView.as_view(), name="webauthn-detail"),
    path("passkey/login/begin/", webauthn_views.PasskeyLoginBeginView.as_view(), name="passkey-login-begin"),
    path("passkey/login/complete/", webauthn_views.PasskeyLoginCompleteView.as_view(), name="passkey-login-complete"),
    # Resource-server interop (RFC 7517 JWKS, RFC 7662 introspection, RFC 7009 revocation).
    path(".well-known/jwks.json", oauth.JWKSView.as_view(), name="jwks"),
    path("introspect/", oauth.IntrospectView.as_view(), name="introspect"),
    path("revoke/", oauth.RevokeView.as_view(), name="revoke"),
]
