"""The tracking tier: ``/click/`` and ``/postback/`` as a WSGI application of their own
(``gokart.tracking.wsgi``), with their own settings (``gokart.tracking.settings``) and URLconf
(``gokart.tracking.urls``), deployed and scaled apart from the admin (README, "Deploying")."""

from __future__ import annotations

import os

from gokart.health import WSGIApplication, health_answered


def tracking_application(settings_module: str) -> WSGIApplication:
    """The tracking tier's WSGI application under ``settings_module`` (``gokart.tracking.settings``,
    or a variant of it such as the benchmarks' floor), ``/healthz`` and ``/readyz`` answered in
    front of it. The settings module is set, not defaulted: importing the ``gokart`` package has
    already defaulted it to the admin's (``gokart/celery.py``)."""
    from django.core.wsgi import get_wsgi_application

    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    return health_answered(get_wsgi_application())
