"""The benchmarks' own PostgreSQL databases: created fresh, dropped at the end."""

from __future__ import annotations


def database_exists(postgres_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return found.fetchone() is not None


def database_recreate(postgres_url: str, name: str) -> None:
    import psycopg

    if not name.startswith("gokart_bench_"):
        raise SystemExit(f"Refusing to recreate {name!r}: bench databases start gokart_bench_")
    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(postgres_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The catalogue the large-table benchmarks fill first: five partners (the first three with a
# callback URL), four automatic offers, three events each. Partners' signing secrets are stored
# encrypted by the application (none here: no callback is sent), offers' postback tokens as the
# application stores them (gokart.encryption.token_digest: hint, "$", SHA-256).
CATALOGUE_SQL = [
    # Partners: the first three have a callback URL (so they are owed deliveries).
    """
    INSERT INTO callbacks_partner (name, is_active, callback_url, signing_secret,
        pending_callbacks_enabled, rejected_callbacks_enabled, created_at)
    SELECT 'Partner ' || p, true,
           CASE WHEN p <= 3 THEN 'https://partner' || p || '.example/callbacks' ELSE '' END,
           '', true, true, now()
    FROM generate_series(1, 5) p
    """,
    """
    INSERT INTO conversions_offer (name, advertiser, is_active, rewarding_mode, pending_time,
        postback_secret, attribution_window, currency, landing_url, created_at)
    SELECT 'Offer ' || o, 'Advertiser ' || o, true, 'automatic', NULL,
           left(md5(o::text), 2) || '…' || right(md5(o::text), 2) || '$'
               || encode(sha256(convert_to(md5(o::text), 'UTF8')), 'hex'),
           interval '30 days', 'USD', 'https://advertiser.example/?c={gk_click_id}', now()
    FROM generate_series(1, 4) o
    """,
    """
    INSERT INTO conversions_offerevent (offer_id, code, name, payout, revenue)
    SELECT o.id, e.code, e.name, e.payout, e.revenue
    FROM conversions_offer o CROSS JOIN (VALUES
        ('install', 'Install', 1.2000, 2.0000),
        ('level_10', 'Level 10', 3.5000, 5.0000),
        ('purchase', 'Purchase', 10.0000, 14.5000)) AS e(code, name, payout, revenue)
    ORDER BY o.id, e.code
    """,
]


def field_encryption_key() -> str:
    """A Fernet key for a benchmark's production-like processes (``DEBUG=0`` needs one), in the
    environment every process of the run shares. The same key every run, so that a database kept
    with ``--keep-db`` opens again with ``--reuse``: it guards nothing but generated data."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(b"gokart benchmarks").digest()).decode()


def bench_environment(postgres_url: str, database: str, media: str, name: str) -> dict[str, str]:
    """The environment of a benchmark's own processes: its database, its media folder, its
    own Celery queue, production-like settings (``DEBUG=0``, errors-only logs)."""
    import os
    import secrets

    return {
        **os.environ,
        "DATABASE_URL": f"{postgres_url}/{database}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
        "CELERY_TASK_DEFAULT_QUEUE": f"gokart-{name}-{os.getpid()}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": field_encryption_key(),
        "MEDIA_ROOT": media,
        "LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "gokart.settings",
    }


def bench_cleanup(postgres_url: str, database: str, media: str, *, keep_db: bool) -> None:
    """Close Django's connections, remove the media folder, drop the database (unless kept)."""
    import shutil

    from django.db import connections

    connections.close_all()
    shutil.rmtree(media, ignore_errors=True)
    if not keep_db:
        database_drop(postgres_url, database)
