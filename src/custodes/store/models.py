"""The governance schema: principals, artifacts and their versions, promotions, sign-offs,
evidence, stage changes, policies, and the Merkle audit log with its signed tree heads.

One declarative ``Base`` so Alembic can diff the models against the migrations in a test.
Constraint names come from a naming convention, which keeps them identical on SQLite and
PostgreSQL and lets later migrations drop or alter them by name. Timestamps are always
timezone-aware UTC: PostgreSQL stores ``timestamptz``; SQLite has no time zones, so
:class:`UTCDateTime` converts to UTC on the way in and re-attaches UTC on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "NAMING_CONVENTION",
    "ApiToken",
    "Artifact",
    "ArtifactVersion",
    "Base",
    "Evidence",
    "LogEntry",
    "LogState",
    "LoginFailure",
    "MonitorHeartbeat",
    "MonitorRecord",
    "PolicyRecord",
    "Principal",
    "PromotionRequest",
    "SignOff",
    "StageChange",
    "TreeHead",
    "UTCDateTime",
    "WebSession",
    "utcnow",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive input and always reads back UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: custodes stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative root; its metadata is what the migrations must match."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Principal(Base):
    """A person (or service) who may register, request, sign off or approve."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of role names
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Artifact(Base):
    """A named dataset, notebook, model or pipeline; its content lives in versions."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # dataset | notebook | model | pipeline
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArtifactVersion(Base):
    """One content digest of an artifact and the stage it has reached."""

    __tablename__ = "artifact_versions"
    __table_args__ = (UniqueConstraint("artifact_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    digest: Mapped[str] = mapped_column(String(100))  # sha256:<hex>
    path: Mapped[str] = mapped_column(Text)
    manifest: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(32))
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromotionRequest(Base):
    """A request to move a version from one stage to the next, awaiting sign-offs."""

    __tablename__ = "promotion_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("artifact_versions.id"), index=True)
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open|promoted|rejected|withdrawn
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class SignOff(Base):
    """A principal's signed approve/reject of a request, bound to the version's digest."""

    __tablename__ = "signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("promotion_requests.id"), index=True)
    principal_id: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # approve | reject
    digest: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evidence(Base):
    """A result attached to a version (scan, data check, threat model, provenance)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("artifact_versions.id"), index=True)
    digest: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))  # scan|data_check|threat_model|provenance
    summary: Mapped[str] = mapped_column(Text)  # JSON
    produced_by: Mapped[str] = mapped_column(String(200))
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StageChange(Base):
    """History of a version's stage, one row per move."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("artifact_versions.id"), index=True)
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[int | None] = mapped_column(Integer)


class PolicyRecord(Base):
    """A gate policy as it was when recorded, addressed by its digest."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogEntry(Base):
    """One audit-log leaf; ``payload`` is the canonical JSON the leaf hash covers.

    ``seq`` is assigned by the appender under the LogState lock, never by the database,
    so a gap is evidence of deletion rather than a rolled-back sequence value.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class TreeHead(Base):
    """A signed statement that the log had ``tree_size`` entries with this root."""

    __tablename__ = "tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class LogState(Base):
    """The single row (id 1) every append locks: current size and Merkle frontier.

    ``public_key_pem`` records the log key that signs heads, so an inclusion bundle can
    carry it; verifiers still compare its key id with the one they trust.
    """

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[str] = mapped_column(Text, default="[]")
    public_key_pem: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token for the API and the dashboard login; only its hash is stored.

    The token shown once is ``cst_<id>_<secret>``: the id finds the row, and the secret's
    SHA-256 is compared in constant time, so a database leak yields no usable token.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A dashboard login: the cookie value's hash, its CSRF token and its expiry.

    Kept in the database, not in server memory, so any server process behind a load
    balancer can serve any request.
    """

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    token_id: Mapped[int] = mapped_column(Integer)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """One failed authentication, by client address, for throttling across processes."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class MonitorRecord(Base):
    """A monitor of a model (``custodes monitor run``): what it watches and its configuration.

    ``config_hash`` is the SHA-256 of the canonical JSON of ``config`` (thresholds, window,
    reference digest...); every change of it is also an event in the audit log, so a
    monitor whose thresholds were quietly loosened is visible in ``monitor status``.
    """

    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    interval_s: Mapped[float] = mapped_column(Float)
    config_hash: Mapped[str] = mapped_column(String(100))
    config: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerted_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The ``last_heartbeat`` a missed-heartbeat alert was sent for (one alert a silence)."""


class MonitorHeartbeat(Base):
    """One heartbeat: the monitor was alive at ``at`` with this configuration and state."""

    __tablename__ = "monitor_heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor: Mapped[str] = mapped_column(ForeignKey("monitors.name"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    verdict: Mapped[str] = mapped_column(String(32))
    config_hash: Mapped[str] = mapped_column(String(100))
