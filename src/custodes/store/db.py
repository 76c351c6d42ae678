"""Engines, sessions and schema migration for the governance store.

SQLite serves one person; PostgreSQL serves a team and several API processes. Both must
survive concurrent writers, so: on SQLite every transaction starts with ``BEGIN
IMMEDIATE`` (taking the write lock up front, so two writers queue on the 30 s busy
timeout instead of one failing when it tries to upgrade a read lock), in WAL mode so
readers are not blocked; on PostgreSQL the audit log serializes on a row lock and the
migration on an advisory lock. Every connection failure becomes an
:class:`~custodes.errors.InputError` whose message shows the URL with the password masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from custodes.errors import InputError

__all__ = [
    "MIGRATIONS_DIR",
    "Store",
    "default_url",
    "make_engine",
    "mask_url",
    "open_store",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: pg_advisory_xact_lock key guarding migrations ("custodes" as a 63-bit integer).
_MIGRATION_LOCK = int.from_bytes(b"custodes", "big") & 0x7FFF_FFFF_FFFF_FFFF

_SQLITE_BUSY_MS = 30_000
_PG_CONNECT_TIMEOUT_S = 10


def default_url(project: Path) -> str:
    """SQLite file ``<project>/.custodes/custodes.db``; creates the directory."""
    directory = project / ".custodes"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the store directory: {exc.strerror}", path=directory
        ) from None
    return f"sqlite:///{directory / 'custodes.db'}"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InputError(
            "not a database URL (expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def mask_url(url: str | URL) -> str:
    """The URL as it may be shown to a person: any password replaced by ``***``."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook below emit BEGIN itself instead of pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An Engine for ``url``; ``postgresql://`` is normalised to the psycopg 3 driver."""
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
            return engine
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = _PG_CONNECT_TIMEOUT_S
        return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InputError(f"unsupported database URL {mask_url(parsed)}: {exc}") from None


def _reason(exc: BaseException, url: URL) -> str:
    """First line of the driver's message, with the password scrubbed just in case."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is already there.

    The whole upgrade runs in one transaction that first takes the migration lock, so
    several processes opening a fresh database at once apply it exactly once.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Store:
    """An open governance store: the engine, a session factory and the masked URL."""

    engine: Engine
    session: sessionmaker[Session]
    url: str
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Release every pooled connection (SQLite files stay open otherwise)."""
        if not self._closed:
            self.engine.dispose()
            self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_store(url: str | None, project: Path) -> Store:
    """Open (and migrate) the store at ``url``, or the project's SQLite file by default."""
    engine = make_engine(url if url is not None else default_url(project))
    masked = mask_url(engine.url)
    try:
        upgrade(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise InputError(
            f"cannot open the store at {masked}: {_reason(exc, engine.url)}",
            hint="check the URL, that the server is running and the credentials",
        ) from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise InputError(f"cannot open the store at {masked}: {_reason(exc, engine.url)}") from None
    except BaseException:
        engine.dispose()
        raise
    return Store(engine=engine, session=sessionmaker(engine, expire_on_commit=False), url=masked)
