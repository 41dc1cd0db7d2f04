"""Settings of the benchmarks' tracking server: the tracking tier's own
(``gokart.tracking.settings``: its middleware, its pooled, prepared connections), with the
floor route added (``bench.tracking_floor``). Only ``bench.tracking_floor_wsgi``, the server of
``bench/postback.py`` and ``bench/click.py``, selects it; no production process imports it."""

from gokart.tracking.settings import *  # noqa: F403

ROOT_URLCONF = "bench.tracking_floor"
