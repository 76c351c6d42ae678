"""Persistence for governance: SQLAlchemy models, engines and Alembic migrations.

SQLite for one person, PostgreSQL for a team; the same models and migrations serve both.
"""

from __future__ import annotations

from custodes.store.db import Store, default_url, make_engine, mask_url, open_store

__all__ = ["Store", "default_url", "make_engine", "mask_url", "open_store"]
