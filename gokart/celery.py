"""The one Celery app. Configuration comes from Django settings prefixed ``CELERY_``."""

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gokart.settings")

app = Celery("gokart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    """Celery router: bulk import tasks to ``settings.IMPORT_TASK_QUEUE`` when it is set (read
    at each send); everything else to the default queue."""
    from django.conf import settings

    if name.startswith("conversions.imports.tasks.") and settings.IMPORT_TASK_QUEUE:
        return {"queue": settings.IMPORT_TASK_QUEUE}
    return None
