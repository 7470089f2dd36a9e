"""A project on django-allauth's headless API that uses authgate's token strategy (the
service's settings plus allauth; the service itself does not install allauth)."""

import os
import tempfile

from server.settings import *  # noqa: F401,F403
from server.settings import AUTHENTICATION_BACKENDS, AUTHGATE, INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "allauth", "allauth.account", "allauth.headless"]
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "allauth.account.auth_backends.AuthenticationBackend"]
ROOT_URLCONF = "tests.allauth_project.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("ALLAUTH_PROJECT_DB") or os.path.join(tempfile.mkdtemp(), "allauth.sqlite3"),
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

HEADLESS_ONLY = True
HEADLESS_TOKEN_STRATEGY = "authgate.contrib.allauth.AuthgateTokenStrategy"
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/verify/{key}",
    "account_reset_password_from_key": "/reset/{key}",
    "account_signup": "/signup",
}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
AUTHGATE = {**AUTHGATE, "REFRESH_RETRY_WINDOW": 0}  # so that reuse is reuse at once
