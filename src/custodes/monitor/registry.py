"""Who monitors the monitors: registration, configuration hashes, heartbeats, staleness.

A monitor (``custodes monitor run``) registers itself in the governance store under a
name, with the model it watches, its heartbeat interval and its configuration (window,
thresholds, the reference's digest...). The configuration is hashed; registering with a
different hash is a **change**, recorded as a ``monitor.config_changed`` event in the
tamper-evident audit log (the first registration is a ``monitor.registered`` event).

While it runs, the monitor writes a heartbeat every interval. A monitor whose last
heartbeat is older than its interval is **stale** (dead, hung, or cut off from the store):
:func:`alert_stale` sends one alert per silence to webhooks and logs it in the audit log;
``custodes monitor status`` and :func:`monitor_statuses` (for the dashboard) show each
monitor as ``alive``, ``stale``, ``never`` (registered, no heartbeat yet) or ``changed``
(alive, but its configuration changed within :data:`CHANGE_WINDOW`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from custodes.monitor.alerts import alert_payload, send_alert
from custodes.provenance.manifest import canonical_bytes
from custodes.store.models import MonitorHeartbeat, MonitorRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from custodes.governance.service import Governance
    from custodes.store import Store

__all__ = [
    "CHANGE_WINDOW",
    "MonitorStatus",
    "Registration",
    "alert_stale",
    "config_hash",
    "heartbeat",
    "monitor_statuses",
    "read_statuses",
    "register_monitor",
]

CHANGE_WINDOW = timedelta(days=7)
"""A monitor whose configuration changed this recently shows as ``changed``."""
ACTOR = "custodes-monitor"
HEARTBEAT_HISTORY = timedelta(days=7)
"""Heartbeats older than this (per monitor) are deleted as new ones arrive."""


def config_hash(config: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a monitor's configuration."""
    return "sha256:" + hashlib.sha256(canonical_bytes(config)).hexdigest()


@dataclass(frozen=True)
class Registration:
    """What registering did: ``registered`` (new), ``changed`` or ``unchanged``."""

    outcome: str
    config_hash: str
    previous_hash: str | None = None
    log_seq: int | None = None


def register_monitor(
    gov: Governance,
    name: str,
    model: str,
    interval_s: float,
    config: dict[str, Any],
    *,
    actor: str = ACTOR,
    now: datetime | None = None,
) -> Registration:
    """Record the monitor and its configuration; a new hash is an audit-log event."""
    now = now or datetime.now(UTC)
    digest = config_hash(config)
    text = json.dumps(config, sort_keys=True)
    with gov.write() as session:
        row = session.get(MonitorRecord, name)
        if row is None:
            session.add(
                MonitorRecord(
                    name=name,
                    model=model,
                    interval_s=float(interval_s),
                    config_hash=digest,
                    config=text,
                    created_at=now,
                    changes=0,
                )
            )
            seq = gov.log(
                session,
                "monitor.registered",
                actor,
                {"monitor": name, "model": model, "config_hash": digest, "config": config},
            )
            return Registration("registered", digest, None, seq)
        if row.config_hash == digest and row.model == model and row.interval_s == interval_s:
            return Registration("unchanged", digest, digest)
        previous = row.config_hash
        old = json.loads(row.config)
        diff = {
            k: {"from": old.get(k), "to": config.get(k)}
            for k in sorted({*old, *config})
            if old.get(k) != config.get(k)
        }
        row.model = model
        row.interval_s = float(interval_s)
        row.config_hash = digest
        row.config = text
        row.changed_at = now
        row.changes = (row.changes or 0) + 1
        seq = gov.log(
            session,
            "monitor.config_changed",
            actor,
            {
                "monitor": name,
                "model": model,
                "from_hash": previous,
                "config_hash": digest,
                "changed": diff,
            },
        )
        return Registration("changed", digest, previous, seq)


def heartbeat(
    store: Store,
    name: str,
    *,
    records: int = 0,
    rejected: int = 0,
    verdict: str = "ok",
    config_hash: str = "",
    at: datetime | None = None,
) -> None:
    """One heartbeat of a registered monitor (not an audit event: it is frequent)."""
    at = at or datetime.now(UTC)
    with store.session.begin() as session:
        row = session.get(MonitorRecord, name)
        if row is None:
            raise LookupError(f"no monitor named {name!r} is registered")
        session.add(
            MonitorHeartbeat(
                monitor=name,
                at=at,
                records=records,
                rejected=rejected,
                verdict=verdict,
                config_hash=config_hash or row.config_hash,
            )
        )
        if row.last_heartbeat is None or at > row.last_heartbeat:
            row.last_heartbeat = at
        # status reads only the newest beat: a week of history is kept, not every beat
        # forever (two a minute per monitor)
        session.execute(
            delete(MonitorHeartbeat).where(
                MonitorHeartbeat.monitor == name, MonitorHeartbeat.at < at - HEARTBEAT_HISTORY
            )
        )


@dataclass(frozen=True)
class MonitorStatus:
    """One monitor as ``monitor status`` shows it."""

    name: str
    model: str
    status: str
    """alive | changed | stale | never"""
    interval_s: float
    last_heartbeat: datetime | None
    config_hash: str
    changed_at: datetime | None
    changes: int
    records: int
    verdict: str | None
    silent_s: float | None

    @property
    def alive(self) -> bool:
        return self.status in ("alive", "changed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "status": self.status,
            "interval_seconds": self.interval_s,
            "last_heartbeat": _iso(self.last_heartbeat),
            "silent_seconds": None if self.silent_s is None else round(self.silent_s, 1),
            "config_hash": self.config_hash,
            "config_changed_at": _iso(self.changed_at),
            "config_changes": self.changes,
            "records": self.records,
            "verdict": self.verdict,
        }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _status(row: MonitorRecord, now: datetime) -> str:
    if row.last_heartbeat is None:
        return "never"
    if (now - row.last_heartbeat).total_seconds() > row.interval_s:
        return "stale"
    if row.changed_at is not None and now - row.changed_at <= CHANGE_WINDOW:
        return "changed"
    return "alive"


def _statuses(session: Session, now: datetime) -> list[MonitorStatus]:
    out = []
    for row in session.execute(select(MonitorRecord).order_by(MonitorRecord.name)).scalars():
        last = session.execute(
            select(MonitorHeartbeat)
            .where(MonitorHeartbeat.monitor == row.name)
            .order_by(MonitorHeartbeat.at.desc())
            .limit(1)
        ).scalar_one_or_none()
        out.append(
            MonitorStatus(
                name=row.name,
                model=row.model,
                status=_status(row, now),
                interval_s=row.interval_s,
                last_heartbeat=row.last_heartbeat,
                config_hash=row.config_hash,
                changed_at=row.changed_at,
                changes=row.changes or 0,
                records=last.records if last is not None else 0,
                verdict=last.verdict if last is not None else None,
                silent_s=None
                if row.last_heartbeat is None
                else (now - row.last_heartbeat).total_seconds(),
            )
        )
    return out


def read_statuses(store: Store, now: datetime | None = None) -> list[MonitorStatus]:
    """Every registered monitor's status, from a store (read only)."""
    with store.session() as session:
        return _statuses(session, now or datetime.now(UTC))


def monitor_statuses(gov: Governance, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every monitor's status as JSON-ready dicts (what the dashboard's monitors page shows)."""
    return [s.to_dict() for s in read_statuses(gov.store, now)]


def alert_stale(
    gov: Governance,
    webhooks: Iterable[str],
    *,
    now: datetime | None = None,
    exclude: Iterable[str] = (),
) -> tuple[list[MonitorStatus], list[str]]:
    """Alert once for each monitor newly stale: (monitors alerted, delivery failures).

    "Once" is per silence: the alert remembers the last heartbeat it was sent for, so a
    monitor that comes back and dies again is alerted again. Each alert is logged in the
    audit log (``monitor.stale``) whether or not a webhook received it.
    """
    now = now or datetime.now(UTC)
    urls = list(webhooks)
    skip = set(exclude)
    alerted: list[MonitorStatus] = []
    failures: list[str] = []
    for st in read_statuses(gov.store, now):
        if st.name in skip or st.status != "stale" or st.last_heartbeat is None:
            continue
        with gov.write() as session:
            row = session.get(MonitorRecord, st.name)
            if row is None or row.alerted_for == row.last_heartbeat:
                continue
            row.alerted_for = row.last_heartbeat
            gov.log(
                session,
                "monitor.stale",
                ACTOR,
                {
                    "monitor": st.name,
                    "model": st.model,
                    "last_heartbeat": _iso(st.last_heartbeat),
                    "interval_seconds": st.interval_s,
                },
            )
        alerted.append(st)
        message = (
            f"monitor {st.name} of model {st.model} missed its heartbeat: silent "
            f"{st.silent_s or 0:.0f} s (interval {st.interval_s:g} s), last seen "
            f"{_iso(st.last_heartbeat)}"
        )
        failures += send_alert(
            urls,
            alert_payload(
                "monitor.stale",
                st.name,
                message,
                model=st.model,
                last_heartbeat=_iso(st.last_heartbeat),
            ),
        )
    return alerted, failures
