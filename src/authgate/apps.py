"""Django app configuration: connects the signal receivers, the system checks and the
optional OpenAPI extensions."""
from django.apps import AppConfig


class AuthgateConfig(AppConfig):
    name = "authgate"
    verbose_name = "authgate"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from . import signals  # noqa: F401  (connects receivers)
        from . import activity  # noqa: F401  (connects the activity trail's receivers)
        from . import openapi  # noqa: F401  (registers the OpenAPI security schemes, if drf-spectacular is there)
