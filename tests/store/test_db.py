"""Engines, migrations and error handling of custodes.store.db on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import StatementError

from custodes.errors import InputError
from custodes.store import Store, default_url, make_engine, open_store
from custodes.store.models import Artifact, Base, LogState


def test_migration_matches_models(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_open_store_twice_is_a_noop(db_url: str, tmp_path: Path) -> None:
    with open_store(db_url, tmp_path) as first, first.session.begin() as session:
        session.add(Artifact(kind="model", name="churn"))
    with open_store(db_url, tmp_path) as second:
        with second.engine.connect() as conn:
            assert conn.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalars().all() == ["0003"]
        tables = set(inspect(second.engine).get_table_names())
        with second.session() as session:
            assert session.execute(select(func.count()).select_from(Artifact)).scalar_one() == 1
            assert session.execute(select(func.count()).select_from(LogState)).scalar_one() == 1
    assert {"audit_log", "tree_heads", "log_state", "principals", "artifacts"} <= tables


def test_datetimes_read_back_timezone_aware_utc(store: Store) -> None:
    cest = timezone(timedelta(hours=2))
    written = datetime(2026, 11, 26, 14, 30, 15, 123456, tzinfo=cest)
    with store.session.begin() as session:
        session.add(Artifact(kind="dataset", name="claims", created_at=written))
    with store.session() as session:
        got = session.execute(select(Artifact.created_at)).scalar_one()
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    assert got == written


def test_naive_datetime_is_refused(store: Store) -> None:
    with store.session() as session:
        session.add(Artifact(kind="dataset", name="x", created_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


def test_default_url_is_sqlite_under_dot_custodes(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    assert url == f"sqlite:///{tmp_path / '.custodes' / 'custodes.db'}"
    assert (tmp_path / ".custodes").is_dir()
    with open_store(None, tmp_path) as s:
        assert s.url == url
    assert (tmp_path / ".custodes" / "custodes.db").is_file()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        seen: list[str] = []
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        assert "BEGIN IMMEDIATE" in seen
    finally:
        engine.dispose()


def test_postgresql_url_uses_psycopg3() -> None:
    engine = make_engine("postgresql://u:pw@127.0.0.1:5432/db")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:s3cr3t-pw@127.0.0.1:1/custodes",
        "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/custodes",
    ],
)
def test_unreachable_database_is_input_error_without_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_store(url, tmp_path)
    err = info.value
    assert err.exit_code == 2
    text_ = err.diagnostics()
    assert "s3cr3t-pw" not in text_
    assert "alice:***@127.0.0.1:1/custodes" in text_
    assert "cannot open the store" in text_


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "postgresql+nodriver://u:pw@h/d"])
def test_invalid_url_is_input_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_store(url, tmp_path)
    assert "pw@" not in info.value.diagnostics()


def test_sqlite_in_missing_directory_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open the store"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", tmp_path)


def test_utc_now_default(store: Store) -> None:
    before = datetime.now(UTC)
    with store.session.begin() as session:
        session.add(Artifact(kind="model", name="m"))
    with store.session() as session:
        created = session.execute(select(Artifact.created_at)).scalar_one()
    assert before <= created <= datetime.now(UTC)


def test_upgrade_from_0001_keeps_the_log(db_url: str, tmp_path: Path) -> None:
    """A store created before the server tables existed upgrades in place."""
    from alembic import command
    from alembic.config import Config

    from custodes.store.db import MIGRATIONS_DIR

    engine = make_engine(db_url or default_url(tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO artifacts (kind, name, created_at) VALUES ('model', 'old', CURRENT_TIMESTAMP)"
            )
        )
        assert "api_tokens" not in inspect(conn).get_table_names()
        assert "monitors" not in inspect(conn).get_table_names()
    engine.dispose()
    with open_store(db_url, tmp_path) as store:
        names = set(inspect(store.engine).get_table_names())
        assert {"api_tokens", "web_sessions", "login_failures"} <= names
        assert {"monitors", "monitor_heartbeats"} <= names
        with store.session() as session:
            assert session.execute(select(Artifact.name)).scalars().all() == ["old"]
