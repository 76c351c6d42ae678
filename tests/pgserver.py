"""Pytest plugin: a throwaway PostgreSQL server per test session (per xdist worker).

The store must behave the same on PostgreSQL as on SQLite, so tests run against a real
server rather than a mock. initdb and postgres refuse to run as root, so as root they run
as the ``postgres`` user via ``runuser`` (platform notes, recipe 1). The server starts only
when a test first asks for it, listens on 127.0.0.1 on a free port with fsync off, and is
stopped and deleted at the end of the session. Each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

__all__ = ["PgServer", "free_port", "pg_server", "pg_url"]


def _bin_dir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    pytest.fail(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "install postgresql (make sysdeps)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> None:
    """Run a server command, as the postgres user when we are root."""
    argv = list(cmd)
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


@dataclass(frozen=True)
class PgServer:
    """A running throwaway server; ``url(db)`` is a SQLAlchemy URL for one database."""

    host: str
    port: int
    data_dir: Path
    bin_dir: Path
    user: str = "postgres"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=dbname, autocommit=True
        )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Start a PostgreSQL server for this session (this xdist worker) and remove it after."""
    bin_dir = _bin_dir()
    data = Path(tempfile.mkdtemp(prefix="custodes-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        _as_postgres(
            str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        _as_postgres(
            pg_ctl, "-D", str(data), "-w", "-l", f"{data}/log",
            "-o", f"-h 127.0.0.1 -p {port} -k {data} -F", "start",
        )  # fmt: skip
        yield PgServer("127.0.0.1", port, data, bin_dir)
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A SQLAlchemy URL of a fresh, empty database on the session's server."""
    dbname = f"t_{uuid.uuid4().hex[:16]}"
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return pg_server.url(dbname)
