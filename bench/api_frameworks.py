"""django-ninja against Django REST framework on the Management API's two hot routes: the
GoKart status PATCH and our conversions list (issue 22: "measure both").

    .venv/bin/python bench/api_frameworks.py --rows 2000000 --requests 500

What it does, all on this machine (in one process, through Django's test ``Client``: the
middleware, URL resolution, authentication, validation, the same services and queries, JSON
rendering; no network, so what differs is the framework):

1. fills its own database (``gokart_bench_api``; ``bench/changelist.py``'s fill, ``--keep-db``
   and ``--reuse`` as there) with ``--rows`` conversions;
2. creates a superuser with a second factor and an API key with every scope;
3. times ``--requests`` requests of each, with one warm-up pass, through the project's
   django-ninja routes (``/api/v1/…``):
   - ``PATCH /api/v1/sdk-conversion-system/conversions/{gk_click_id}/{id}/status?status=
     Success`` on Pending conversions, each changed once (audit and outbox rows written; a
     disjoint share per framework; approval thresholds raised for the run, so that every change
     applies);
   - ``GET /api/v1/conversions?limit=50``, ``…&status=success``, and a page 1,000 cursors deep;
4. when ``rest_framework`` is importable (it is not a dependency: ``pip install
   djangorestframework`` in a scratch venv), the same routes written as DRF ``APIView``s with
   serializers (this script's own urlconf, ``/drf/…``), calling the same services and selectors,
   timed the same way.

Last lines: ``framework=… route=… median_ms=… p99_ms=… requests_per_s=…``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.admin_session import admin_client_verified  # noqa: E402 -- after the path is set
from bench.changelist_fill import database_filled  # noqa: E402
from bench.database import database_drop  # noqa: E402

DATABASE = "gokart_bench_api"
URLCONF = "bench_api_frameworks_urls"


def drf_urlpatterns() -> list[Any] | None:
    """The two routes as Django REST framework views, or None without DRF."""
    try:
        from rest_framework import serializers
        from rest_framework.authentication import BaseAuthentication
        from rest_framework.exceptions import AuthenticationFailed, NotFound
        from rest_framework.renderers import JSONRenderer
        from rest_framework.response import Response
        from rest_framework.views import APIView
    except ImportError:
        return None
    from django.urls import path

    from api.cursors import cursor_for, cursor_position
    from api.keys import KeyRefused, api_key_authenticate
    from api.selectors import conversion_fields, conversions_for_api, rewards_sent
    from api.status_changes import api_status_set
    from conversions.models import Status

    class KeyAuthentication(BaseAuthentication):
        def authenticate(self, request: Any) -> tuple[Any, Any] | None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() not in ("apitoken", "bearer"):
                return None
            try:
                api_key = api_key_authenticate(token=token, address=request.META["REMOTE_ADDR"])
            except KeyRefused as refused:
                raise AuthenticationFailed(refused.detail) from None
            return api_key.user, api_key

    class ConversionSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        gk_click_id = serializers.CharField()
        sub_id = serializers.CharField(allow_blank=True)
        offer_id = serializers.IntegerField()
        offer_event = serializers.CharField()
        partner_id = serializers.IntegerField()
        status = serializers.CharField()
        status_reason = serializers.CharField(allow_blank=True)
        status_source = serializers.CharField()
        status_changed_at = serializers.DateTimeField()
        status_version = serializers.IntegerField()
        payout = serializers.DecimalField(max_digits=12, decimal_places=4)
        revenue = serializers.DecimalField(max_digits=12, decimal_places=4)
        currency = serializers.CharField()
        transaction_id = serializers.CharField(allow_blank=True)
        created_at = serializers.DateTimeField()

    class ListQuery(serializers.Serializer):
        status = serializers.ChoiceField(choices=Status.values, required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)

    class Base(APIView):
        authentication_classes = [KeyAuthentication]
        renderer_classes = [JSONRenderer]

    class ConversionList(Base):
        def get(self, request: Any) -> Response:
            query = ListQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
            data = query.validated_data
            rows = conversions_for_api().order_by("-id")
            if "cursor" in data:
                rows = rows.filter(id__lt=cursor_position(data["cursor"]))
            if "status" in data:
                rows = rows.filter(status=data["status"])
            found = list(rows[: data["limit"] + 1])
            page = found[: data["limit"]]
            items = ConversionSerializer([conversion_fields(c) for c in page], many=True).data
            more = len(found) > data["limit"]
            return Response(
                {"items": items, "next_cursor": cursor_for(last_id=page[-1].pk) if more else None}
            )

    class StatusQuery(serializers.Serializer):
        status = serializers.ChoiceField(choices=["Pending", "Success", "Rejected"])
        reason = serializers.CharField(required=False, default="", allow_blank=True)

    class GoKartStatus(Base):
        def patch(self, request: Any, gk_click_id: str, conversion_event_id: int) -> Response:
            query = StatusQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
            conversion = (
                conversions_for_api()
                .filter(pk=conversion_event_id, click__gk_click_id=gk_click_id)
                .first()
            )
            if conversion is None:
                raise NotFound()
            value = {label: value for value, label in Status.choices}[
                query.validated_data["status"]
            ]
            outcome = api_status_set(
                conversion_id=conversion.pk,
                status=value,
                reason=query.validated_data["reason"],
                api_key=request.auth,
            )
            if outcome is None:
                raise NotFound()
            c = outcome.conversion
            return Response(
                {
                    "conversionId": c.click.gk_click_id,
                    "conversionEventId": c.pk,
                    "status": Status(c.status).label,
                    "rejectionReason": c.status_reason or None,
                    "isRewardSent": c.pk in rewards_sent([c]),
                }
            )

    return [
        path("drf/conversions", ConversionList.as_view()),
        path(
            "drf/sdk-conversion-system/conversions/<str:gk_click_id>/<int:conversion_event_id>/status",
            GoKartStatus.as_view(),
        ),
    ]


def urlconf_install(drf: list[Any] | None) -> None:
    from django.conf import settings
    from django.urls import clear_url_caches, include, path

    module = types.ModuleType(URLCONF)
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("api/v1/", include(("api.urls", "ninja"), namespace="api-v1")),
        *(drf or []),
    ]
    sys.modules[URLCONF] = module
    settings.ROOT_URLCONF = URLCONF
    clear_url_caches()


def timed(
    label: str,
    warmup: list[tuple[str, str]],
    requests: list[tuple[str, str]],
    client: Any,
    headers: dict,
) -> None:
    def send(method: str, url: str) -> int:
        response = getattr(client, method)(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response.status_code

    for method, url in warmup:
        send(method, url)
    timings = []
    started = time.perf_counter()
    for method, url in requests:
        began = time.perf_counter()
        send(method, url)
        timings.append((time.perf_counter() - began) * 1000)
    elapsed = time.perf_counter() - started
    p99 = sorted(timings)[max(0, int(len(timings) * 0.99) - 1)]
    print(
        f"{label} median_ms={statistics.median(timings):.2f} p99_ms={p99:.2f} "
        f"requests_per_s={len(timings) / elapsed:.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="skip the fill when the database holds --rows"
    )
    args = parser.parse_args()
    # Every change of the run applies at once: none waits for a second person.
    os.environ["IMPORT_APPROVAL_MIN_CONVERSIONS"] = str(10**12)
    os.environ["IMPORT_APPROVAL_MIN_PAYOUT"] = ""

    postgres_url = database_filled(
        database=args.database, rows=args.rows, reuse=args.reuse, secret_key="bench-api-not-secret"
    )
    try:
        from django.db.models import Max
        from django.test import Client

        from api.cursors import cursor_for
        from api.keys import api_key_create
        from api.models import Scope
        from conversions.models import Conversion

        admin_client_verified()  # the superuser "bench", with its second factor
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username="bench")
        _key, token = api_key_create(
            name="bench", user=user, created_by=user, scopes=list(Scope.values)
        )
        headers = {"Authorization": f"ApiToken {token}"}
        # Pending conversions, each changed once to Success (a real change: audit and outbox
        # rows), a disjoint share per framework, the warm-up's own first.
        warm = max(1, args.requests // 10)
        targets = list(
            Conversion.objects.filter(status="pending")
            .order_by("-id")
            .values_list("click__gk_click_id", "id")[: 2 * (args.requests + warm)]
        )
        max_id = Conversion.objects.aggregate(top=Max("id"))["top"]
        deep = cursor_for(last_id=max_id - 50 * 1000)
        drf = drf_urlpatterns()
        urlconf_install(drf)
        client = Client()
        frameworks = [("ninja", "/api/v1")] + ([("drf", "/drf")] if drf else [])
        if not drf:
            print("rest_framework not importable: timing django-ninja only", flush=True)
        for index, (name, base) in enumerate(frameworks):
            share = targets[index * (args.requests + warm) : (index + 1) * (args.requests + warm)]
            patches = [
                (
                    "patch",
                    f"{base}/sdk-conversion-system/conversions/{gk}/{pk}/status?status=Success",
                )
                for gk, pk in share
            ]
            timed(
                f"framework={name} route=status_patch",
                patches[:warm],
                patches[warm:],
                client,
                headers,
            )
            for label, query in [
                ("list", "limit=50"),
                ("list_status", "limit=50&status=success"),
                ("list_deep", f"limit=50&cursor={deep}"),
            ]:
                gets = [("get", f"{base}/conversions?{query}")]
                timed(
                    f"framework={name} route={label}",
                    gets * warm,
                    gets * args.requests,
                    client,
                    headers,
                )
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(postgres_url, args.database)


if __name__ == "__main__":
    main()
