"""Store fixtures: every DB test runs on a SQLite file and on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custodes.governance.auditlog import LogSigner, load_or_create_log_key
from custodes.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """An opened (migrated) store, closed after the test so no connection leaks."""
    s = open_store(db_url, tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> LogSigner:
    """One log key for the session (key generation is cheap, but files are not needed twice)."""
    return load_or_create_log_key(tmp_path_factory.mktemp("logkey"))
