"""
ASGI entry point of the authgate service (`SERVER=asgi make run`: gunicorn with uvicorn
workers, `gunicorn server.asgi:application -k uvicorn_worker.UvicornWorker`).

HTTP is Django's own ASGI handler (the same routes as under WSGI; async views authenticate
without blocking the event loop). With Channels installed (`authgate[channels]`, part of
the service's extras), websockets are served too: `/ws/echo/`, authenticated on the
handshake and closed with 4001 when its session ends.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
django_application = get_asgi_application()

try:
    from channels.routing import ProtocolTypeRouter, URLRouter
except ImportError:  # HTTP only
    application = django_application
else:
    from django.urls import path

    from authgate.channels import JWTSessionAuthMiddleware

    from .consumers import EchoConsumer

    application = ProtocolTypeRouter(
        {
            "http": django_application,
            "websocket": JWTSessionAuthMiddleware(URLRouter([path("ws/echo/", EchoConsumer.as_asgi())])),
        }
    )
