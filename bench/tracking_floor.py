"""The benchmarks' floor: the tracking tier's URLconf plus ``/bench/floor/``, a view of the same
application that inserts one row (``INSERT … RETURNING``), commits and answers JSON, the least
any recording endpoint can cost on this server and database. ``/bench/floor/click/`` does the
same, answered with a redirect as a click is. Served only under
``bench.tracking_floor_settings`` (never in production URLs); the table is the benchmark's own
(:data:`FLOOR_TABLE_SQL`, created in its throwaway database)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path

from gokart.tracking.urls import urlpatterns as tracking_urlpatterns

FLOOR_TABLE_SQL = """
    CREATE TABLE bench_floor (
        id bigserial PRIMARY KEY,
        gk_click_id varchar(64) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
"""


def _row_insert(request: HttpRequest) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (gk_click_id) VALUES (%s) RETURNING id",
            [request.GET.get("gk_click_id", "")[:64]],
        )
        (row_id,) = cursor.fetchone()
    return row_id


def floor(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"id": _row_insert(request)})


def floor_click(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"https://advertiser.example/?click={_row_insert(request)}")


urlpatterns = [
    *tracking_urlpatterns,
    path("bench/floor/", floor),
    path("bench/floor/click/", floor_click),
]
