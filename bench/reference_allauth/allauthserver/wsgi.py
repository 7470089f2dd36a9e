"""WSGI entry point of the django-allauth reference server (benchmark only)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allauthserver.settings")
application = get_wsgi_application()
