"""Django app configuration: checks the AUTHGATE keys, connects the signal receivers (`receivers`), the system checks, the
optional OpenAPI extensions, and the deactivation trigger's installation after migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuthgateConfig(AppConfig):
    name = "authgate"
    verbose_name = "authgate"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        super().import_models()
        # The second-factor tables belong to this app (one migrations directory); their
        # classes live beside the factors that use them.
        from .mfa import models as mfa_models  # noqa: F401
        from .mfa.webauthn import models as webauthn_models  # noqa: F401

    def ready(self) -> None:
        from .conf import api_settings

        api_settings.check()  # a misspelled AUTHGATE key stops the start, naming it
        from . import checks  # noqa: F401  (registers the system checks)
        from . import receivers
        from .api import schema  # noqa: F401  (registers the OpenAPI security schemes, if drf-spectacular is there)
        from .revocation.triggers import install_after_migrate

        receivers.connect()
        post_migrate.connect(install_after_migrate, sender=self)
        _connect_notifications()
        _install_admin_login_form()


def _connect_notifications() -> None:
    """Security notices: a sign-in from a new device (every way in opens a session, or a
    Django login session: the admin's), refresh token reuse, and a saved password or email
    change from any path."""
    from django.conf import settings
    from django.contrib.auth import user_logged_in
    from django.db.models.signals import post_save, pre_save

    from . import notifications, signals
    from .models import Session

    signals.session_opened.connect(
        notifications.on_session_opened, sender=Session, dispatch_uid="authgate.notifications.session_opened"
    )
    signals.refresh_reuse_detected.connect(
        notifications.on_refresh_reuse, sender=Session, dispatch_uid="authgate.notifications.refresh_reuse"
    )
    user_logged_in.connect(notifications.on_django_login, dispatch_uid="authgate.notifications.django_login")
    user_model = settings.AUTH_USER_MODEL
    pre_save.connect(notifications.note_previous_email, sender=user_model, dispatch_uid="authgate.notifications.email")
    post_save.connect(notifications.on_email_saved, sender=user_model, dispatch_uid="authgate.notifications.email")
    post_save.connect(
        notifications.on_user_saved,
        sender=settings.AUTH_USER_MODEL,
        dispatch_uid="authgate.notifications.password_changed",
    )


def _install_admin_login_form() -> None:
    """The admin's default site asks for the second factor at login, unless the project
    chose its own login form (system check authgate.W010 then checks it)."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib import admin

    from .mfa.forms import AdminLoginForm

    if admin.site.login_form is None:
        admin.site.login_form = AdminLoginForm
        if admin.site.login_template is None:
            admin.site.login_template = "authgate/admin/login.html"
