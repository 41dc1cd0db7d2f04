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
