"""The ready-to-run service (server.settings) with this folder's user model (email as the
username, a required `full_name`): what the browser test of its account page serves."""

from server.settings import *  # noqa: F403

AUTH_USER_MODEL = "custom_user.EmailUser"
INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]  # noqa: F405
