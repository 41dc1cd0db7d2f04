"""PostgreSQL only: the settings refuse any other DATABASE_URL, and the embedded server of
``make run`` (gokart/embedded_postgres.py) starts, keeps its data and stops.

Settings are loaded in a fresh interpreter each time, as ``manage.py`` would load them.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from gokart import embedded_postgres

BASE_DIR = Path(__file__).resolve().parent.parent
PRINT_DATABASE = (
    "import django; from django.conf import settings; "
    "db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'], db['HOST'], db['OPTIONS'])"
)


def run_python(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="gokart.settings", DEBUG="1", GOKART_VAR_DIR=str(tmp_path / "var")
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("sqlite:///db.sqlite3", "sqlite"),
        ("mysql://gokart:s3cret-pass@db.example:3306/gokart", "mysql"),
        ("oracle://gokart:s3cret-pass@db.example/gokart", "oracle"),
        ("nosuchdb://gokart:s3cret-pass@db.example/gokart", "nosuchdb"),
    ],
)
def test_a_database_url_that_is_not_postgresql_is_refused_at_start(tmp_path, url, scheme):
    # given a DATABASE_URL of another database / when settings load
    result = run_python(["-c", PRINT_DATABASE], tmp_path, DATABASE_URL=url)

    # then the start fails with a message saying what is needed and how to set it
    assert result.returncode == 1
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert f"DATABASE_URL is a '{scheme}' URL" in result.stderr
    assert "GoKart needs PostgreSQL 15 or newer" in result.stderr
    assert "set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME" in result.stderr
    assert "leave it unset and use `make run`" in result.stderr
    assert "s3cret-pass" not in result.stderr  # the URL's password is not repeated


def test_manage_py_check_refuses_sqlite(tmp_path):
    result = run_python(["manage.py", "check"], tmp_path, DATABASE_URL="sqlite:///db.sqlite3")

    assert result.returncode == 1
    assert "DATABASE_URL is a 'sqlite' URL" in result.stderr
    assert "GoKart needs PostgreSQL 15 or newer" in result.stderr


def test_unset_database_url_without_a_running_embedded_server_is_refused(tmp_path):
    result = run_python(["-c", PRINT_DATABASE], tmp_path)

    assert result.returncode == 1
    assert "DATABASE_URL is not set. GoKart needs PostgreSQL 15 or newer" in result.stderr
    assert "use `make run`, which starts an embedded PostgreSQL" in result.stderr


def test_a_postgresql_url_with_a_socket_directory_sets_host(tmp_path):
    result = run_python(
        ["-c", PRINT_DATABASE],
        tmp_path,
        DATABASE_URL="postgresql://postgres@/gokart?host=/run/some/socket-dir",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "gokart",
        "/run/some/socket-dir",
        "{}",
    ]


def test_unset_database_url_uses_the_embedded_server_while_it_runs(tmp_path):
    # given the files of a running embedded server: its postmaster.pid and its socket
    pgdata = tmp_path / "var" / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "postmaster.pid").write_text(
        f"{os.getpid()}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  0 0\nready\n"
    )
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(pgdata / ".s.PGSQL.5432"))
    try:
        # when settings load with DATABASE_URL unset
        result = run_python(["-c", PRINT_DATABASE], tmp_path)
    finally:
        listener.close()

    # then they point at that server's socket
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["django.db.backends.postgresql", "gokart", str(pgdata)]


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in (process.info["cmdline"] or []):
            found.append(process)
    return found


@pytest.fixture
def server_dir():
    """A folder for an embedded server's data, outside pytest's own temporary folders: the wheel
    runs PostgreSQL as its own system user, which must be able to reach it, and pytest makes
    its base folder private to root again each time a run starts."""
    folder = Path(tempfile.mkdtemp(prefix="gokart-embedded-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_server_keeps_its_data_between_runs_and_stops_after_each(server_dir):
    tmp_path = server_dir
    pgdata = tmp_path / "var" / "postgres"
    write = (
        "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], autocommit=True)"
        ".execute('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)')"
    )
    read = (
        "import os, psycopg; print(psycopg.connect(os.environ['DATABASE_URL'])"
        ".execute('SELECT n FROM kept').fetchone()[0])"
    )

    # given a first run that writes a row (initdb, then database gokart created)
    first = run_python(["-m", "gokart.embedded_postgres", sys.executable, "-c", write], tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"Embedded PostgreSQL: {pgdata.resolve()}" in first.stdout
    assert "/gokart?host=" in first.stdout
    assert "Embedded PostgreSQL stopped." in first.stdout
    assert postgres_processes(pgdata.resolve()) == []

    # and a postmaster.pid left behind by a killed server, its pid now another process's
    (pgdata / "postmaster.pid").write_text(
        f"{os.getpid()}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  0 0\nready\n"
    )

    # when the next run starts, then it starts anyway and finds the row
    second = run_python(["-m", "gokart.embedded_postgres", sys.executable, "-c", read], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "42" in second.stdout.split()
    assert postgres_processes(pgdata.resolve()) == []


def test_embedded_server_passes_on_the_exit_status_of_the_command(server_dir):
    tmp_path = server_dir
    result = run_python(
        ["-m", "gokart.embedded_postgres", sys.executable, "-c", "raise SystemExit(3)"], tmp_path
    )

    assert result.returncode == 3
    assert "Embedded PostgreSQL stopped." in result.stdout


def test_database_url_is_a_libpq_socket_url():
    assert (
        embedded_postgres.database_url(Path("/tmp/gk"))
        == "postgresql://postgres@/gokart?host=/tmp/gk"
    )
