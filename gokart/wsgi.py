"""The admin's WSGI application (``gunicorn gokart.wsgi``; ``runserver`` too): every route of
``gokart.urls``, the tracking endpoints included, so that one process serves everything in
development. Production runs the tracking endpoints in their own tier (``gokart.tracking.wsgi``).
``/healthz`` and ``/readyz`` are answered in front of Django (``gokart.health``)."""

import os

from django.core.wsgi import get_wsgi_application

from gokart.health import health_answered

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gokart.settings")
application = health_answered(get_wsgi_application())
