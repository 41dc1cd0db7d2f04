"""The tracking tier's WSGI application: ``gunicorn gokart.tracking.wsgi -c
python:gokart.gunicorn_config …`` (README, "Deploying"). ``/click/`` and ``/postback/`` only,
through the middleware they need, on pooled, prepared connections (``gokart.tracking.settings``,
whatever ``DJANGO_SETTINGS_MODULE`` says); ``/healthz`` and ``/readyz`` answered in front of
Django (``gokart.health``)."""

from gokart.tracking import tracking_application

application = tracking_application("gokart.tracking.settings")
