"""Alembic environment for custodes: online only, on the connection custodes hands in.

custodes runs migrations from :func:`custodes.store.db.open_store` with a connection that
already holds the migration lock (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite), so this environment never opens its own connection and needs no alembic.ini.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from custodes.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "custodes migrations run via custodes.store.db.open_store, with a connection"
    )

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
