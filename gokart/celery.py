"""The one Celery app. Configuration comes from Django settings prefixed ``CELERY_``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gokart.settings")

app = Celery("gokart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
