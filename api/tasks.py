"""The Management API's periodic clean-ups (scheduled in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from api.idempotency import idempotent_requests_expired_delete
from api.request_log import api_requests_trim


@shared_task(ignore_result=True)
def idempotent_requests_purge() -> int:
    """Forget the Idempotency-Keys older than ``API_IDEMPOTENCY_HOURS``."""
    return idempotent_requests_expired_delete()


@shared_task(ignore_result=True)
def api_requests_trim_task() -> int:
    """Keep each API key's latest ``API_REQUEST_LOG_PER_KEY`` logged requests."""
    return api_requests_trim()
