"""Settings of the tracking tier (``gokart.tracking.wsgi``): the project's own
(``gokart.settings``, every knob read the same way), with four differences.

- **Only the middleware ``/click/`` and ``/postback/`` need**: ``SecurityMiddleware`` (the
  redirect to HTTPS and HSTS under ``GOKART_HTTPS``, ``nosniff``). No sessions,
  authentication, messages, two-step sign-in, idle timeout, lockout, CSRF (both views are
  exempt) or CSP (they answer JSON and redirects): the admin's stack cost a postback about a
  millisecond of Python for nothing.
- **Its own URLconf** (``gokart.tracking.urls``): the two endpoints, nothing of the admin, the
  API or ``/metrics`` (the admin serves those; the counts are shared through Redis).
- **Pooled, prepared connections**: each process keeps ``TRACKING_DATABASE_POOL_SIZE``
  PostgreSQL connections open in Django's pool (psycopg_pool) and lends one to each request.
  Django refuses a pool with persistent connections, so ``CONN_MAX_AGE`` is 0 here: "closing"
  returns the connection to the pool. Parameters are bound on the server and a statement is
  prepared on its first execution on a connection (psycopg's ``prepare_threshold=1``; Django
  turns preparing off by default for the sake of PgBouncer in transaction mode, which must not
  sit between this tier and PostgreSQL) and planned once, generically (``plan_cache_mode``): the
  postback's and the click's one statement is parsed and planned once per connection, then each
  request sends only its parameters.
- **Callback dispatches queued from a thread** (``CALLBACK_DISPATCH_DEFER_MS``,
  ``callbacks.dispatch``): a postback's commit only wakes it, instead of a Redis round trip of
  its own to mark a dispatch queued.
"""

from __future__ import annotations

from typing import Any

from gokart.settings import *  # noqa: F403
from gokart.settings import DATABASES as _ADMIN_DATABASES
from gokart.settings import TRACKING_CALLBACK_DISPATCH_DEFER_MS, TRACKING_DATABASE_POOL_SIZE

MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
# The admin's apps stay installed (one project, one set of models) but are not served here, so
# their checks for the admin's middleware do not apply; nor do the deploy checks for framing and
# CSRF middleware: this tier answers JSON and redirects, never a page or a form (its two views
# are CSRF-exempt anyway). ``manage.py check --deploy`` under these settings passes.
SILENCED_SYSTEM_CHECKS = [
    "admin.E408",
    "admin.E409",
    "admin.E410",
    "axes.W002",
    "security.W002",
    "security.W003",
]
ROOT_URLCONF = "gokart.tracking.urls"
CALLBACK_DISPATCH_DEFER_MS = TRACKING_CALLBACK_DISPATCH_DEFER_MS
WSGI_APPLICATION = "gokart.tracking.wsgi.application"


def tracking_database(database: dict[str, Any], *, pool_size: int) -> dict[str, Any]:
    """``database`` (a ``DATABASES`` entry) pooled and prepared as the tracking tier uses it."""
    options = {**database.get("OPTIONS", {})}
    # PostgreSQL plans a prepared statement anew for its first five executions before it
    # settles on a generic plan: the postback's statement took 15-25 ms to plan here, so each
    # new connection would spend a tenth of a second planning. Its one generic plan is as good.
    server_options = f"{options.get('options', '')} -c plan_cache_mode=force_generic_plan"
    options.update(
        # One more than the threads when needed: the readiness probe's (gokart.health).
        pool={"min_size": pool_size, "max_size": pool_size + 1},
        server_side_binding=True,
        prepare_threshold=1,
        options=server_options.strip(),
    )
    return {**database, "CONN_MAX_AGE": 0, "OPTIONS": options}


DATABASES = {
    "default": tracking_database(_ADMIN_DATABASES["default"], pool_size=TRACKING_DATABASE_POOL_SIZE)
}
