"""Django app configuration: connects the signal handlers that end sessions."""
from django.apps import AppConfig


class AuthgateConfig(AppConfig):
    name = "authgate"
    verbose_name = "authgate"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401  (connects receivers)
        from . import activity  # noqa: F401  (connects the activity trail's receivers)
        from . import security  # noqa: F401  (registers the OpenAPI security schemes)
