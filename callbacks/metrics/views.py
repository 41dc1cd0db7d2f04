"""``GET /metrics``: Prometheus text format behind ``Authorization: Bearer <METRICS_TOKEN>``.

404 while ``METRICS_TOKEN`` is unset (the endpoint does not exist), 403 for a missing or wrong
token. Every series is computed at scrape time (``callbacks.metrics.collector``), so any web
process answers for all of them.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from callbacks.metrics.collector import BackOfficeCollector


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    offered = request.headers.get("Authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return HttpResponse("Forbidden: send Authorization: Bearer <METRICS_TOKEN>.\n", status=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackOfficeCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
