"""Monitors and their heartbeats (who monitors the monitors).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("config_hash", sa.String(100), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("changed_at", TS, nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("last_heartbeat", TS, nullable=True),
        sa.Column("alerted_for", TS, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_monitors"),
    )
    op.create_index("ix_monitors_model", "monitors", ["model"])
    op.create_table(
        "monitor_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("config_hash", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor"], ["monitors.name"], name="fk_monitor_heartbeats_monitor_monitors"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_heartbeats"),
    )
    op.create_index("ix_monitor_heartbeats_monitor", "monitor_heartbeats", ["monitor"])
    op.create_index("ix_monitor_heartbeats_at", "monitor_heartbeats", ["at"])


def downgrade() -> None:
    op.drop_table("monitor_heartbeats")
    op.drop_table("monitors")
