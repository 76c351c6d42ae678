"""Who monitors the monitors: heartbeats, stale alerts, audited configuration changes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from custodes.governance.service import Governance
from custodes.monitor.registry import (
    alert_stale,
    heartbeat,
    monitor_statuses,
    read_statuses,
    register_monitor,
)
from custodes.store.models import LogEntry

from ..conftest import Result
from .conftest import Receiver, Service

CLI = Callable[..., Result]


def _status(cli: CLI, project: Path, *extra: str) -> tuple[int, dict[str, object]]:
    r = cli("monitor", "status", "-C", project, "--format", "json", *extra)
    return r.code, json.loads(r.out)


def _kinds(project: Path) -> list[str]:
    with Governance.open(project) as gov, gov.read() as s:
        return list(s.execute(select(LogEntry.kind).order_by(LogEntry.seq)).scalars())


@pytest.mark.slow
def test_stopped_monitor_goes_stale_alerts_and_config_change_is_audited(
    cli: CLI, tmp_path: Path, small_reference: Path, receiver: Receiver
) -> None:
    args = ["-r", str(small_reference), "--model", "outcome-model", "--name", "watch-1"]
    svc = Service(
        *args, "--interval", "1", "--eval-every", "0.5", "-C", str(tmp_path), cwd=tmp_path
    )
    assert "(registered)" in svc.banner
    time.sleep(1.2)
    code, doc = _status(cli, tmp_path)
    [mon] = doc["monitors"]  # type: ignore[misc]
    assert (code, mon["status"], mon["model"]) == (0, "alive", "outcome-model")

    svc.stop(kill=True)  # dies without a word
    time.sleep(1.6)
    code, doc = _status(cli, tmp_path, "--webhook", receiver.url)
    [mon] = doc["monitors"]  # type: ignore[misc]
    assert (code, mon["status"]) == (1, "stale")
    assert doc["alerted"] == ["watch-1"]
    alert = receiver.wait_for("monitor.stale")
    assert alert["monitor"] == "watch-1"
    assert "missed its heartbeat" in alert["message"]
    code, doc = _status(cli, tmp_path, "--webhook", receiver.url)
    assert doc["alerted"] == []  # one alert per silence
    assert sum(r["kind"] == "monitor.stale" for r in receiver.received) == 1

    # restarted with another window: a configuration change, audited
    svc = Service(*args, "--interval", "1", "--window", "30m", "-C", str(tmp_path), cwd=tmp_path)
    try:
        assert "(changed)" in svc.banner
        time.sleep(0.3)
        code, doc = _status(cli, tmp_path)
    finally:
        svc.stop()
    [mon] = doc["monitors"]  # type: ignore[misc]
    assert (code, mon["status"], mon["config_changes"]) == (0, "changed", 1)
    kinds = _kinds(tmp_path)
    assert kinds.count("monitor.registered") == 1
    assert kinds.count("monitor.config_changed") == 1
    assert kinds.count("monitor.stale") == 1
    r = cli("audit", "verify", "-C", tmp_path)
    assert r.code == 0, r.out
    assert "audit log verified" in r.out
    r = cli("monitor", "status", "-C", tmp_path)
    assert "watch-1" in r.out


def _gov_on(url: str | None, tmp_path: Path) -> Governance:
    return Governance.open(tmp_path, url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_registry_on_both_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, receiver: Receiver
) -> None:
    url = None if backend == "sqlite" else request.getfixturevalue("pg_url")
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    with _gov_on(url, tmp_path) as gov:
        config = {"window": "1h", "thresholds": {"psi": 0.2}}
        assert register_monitor(gov, "a", "m", 60, config, now=t0).outcome == "registered"
        assert register_monitor(gov, "a", "m", 60, config, now=t0).outcome == "unchanged"
        register_monitor(gov, "b", "m", 60, config, now=t0)
        heartbeat(gov.store, "a", records=10, at=t0 + timedelta(seconds=30))
        heartbeat(gov.store, "b", records=5, at=t0 + timedelta(seconds=100))
        with pytest.raises(LookupError):
            heartbeat(gov.store, "nobody")
        at = t0 + timedelta(seconds=120)
        states = {s.name: s.status for s in read_statuses(gov.store, at)}
        assert states == {"a": "stale", "b": "alive"}
        alerted, failures = alert_stale(gov, [receiver.url], now=at)
        assert ([s.name for s in alerted], failures) == (["a"], [])
        assert alert_stale(gov, [receiver.url], now=at)[0] == []
        heartbeat(gov.store, "a", at=at)  # back, then silent again: a new alert
        later = at + timedelta(seconds=61)
        assert [s.name for s in alert_stale(gov, [receiver.url], now=later)[0]] == ["a", "b"]
        changed = register_monitor(
            gov, "a", "m", 60, {**config, "thresholds": {"psi": 0.5}}, now=later
        )
        assert changed.outcome == "changed"
        assert changed.previous_hash != changed.config_hash
        heartbeat(gov.store, "a", at=later)
        [doc] = [d for d in monitor_statuses(gov, later) if d["name"] == "a"]
        assert doc["status"] == "changed"
        assert doc["config_changes"] == 1
        with gov.read() as s:
            entry = s.execute(
                select(LogEntry).where(LogEntry.kind == "monitor.config_changed")
            ).scalar_one()
        assert json.loads(entry.payload)["data"]["changed"] == {
            "thresholds": {"from": {"psi": 0.2}, "to": {"psi": 0.5}}
        }
    assert len([r for r in receiver.received if r["kind"] == "monitor.stale"]) == 3


def test_heartbeats_keep_a_week_per_monitor(tmp_path: Path) -> None:
    """Two beats a minute per monitor would grow the store forever: a beat deletes its own
    monitor's beats older than HEARTBEAT_HISTORY, and never another monitor's."""
    from custodes.monitor.registry import HEARTBEAT_HISTORY
    from custodes.store.models import MonitorHeartbeat

    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    with _gov_on(None, tmp_path) as gov:
        for name in ("a", "b"):
            register_monitor(gov, name, "m", 60, {"window": "1h"}, now=t0)
        for minutes in (0, 1, 2):
            heartbeat(gov.store, "a", at=t0 + timedelta(minutes=minutes))
            heartbeat(gov.store, "b", at=t0 + timedelta(minutes=minutes))
        late = t0 + HEARTBEAT_HISTORY + timedelta(minutes=1, seconds=30)
        heartbeat(gov.store, "a", at=late)
        with gov.read() as s:
            kept = s.execute(
                select(MonitorHeartbeat.monitor, MonitorHeartbeat.at).order_by(
                    MonitorHeartbeat.monitor, MonitorHeartbeat.at
                )
            ).all()
        got = [(m, at.replace(tzinfo=UTC) if at.tzinfo is None else at) for m, at in kept]
        assert got == [
            ("a", t0 + timedelta(minutes=2)),
            ("a", late),
            ("b", t0),
            ("b", t0 + timedelta(minutes=1)),
            ("b", t0 + timedelta(minutes=2)),
        ]
        assert {s.name: s.last_heartbeat for s in read_statuses(gov.store, late)}["a"] == late


def test_alert_to_a_dead_webhook_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    with Governance.open(tmp_path) as gov:
        register_monitor(gov, "a", "m", 1, {}, now=t0)
        heartbeat(gov.store, "a", at=t0)
        alerted, failures = alert_stale(gov, ["http://127.0.0.1:9/x"], now=t0 + timedelta(hours=1))
    assert [s.name for s in alerted] == ["a"]
    assert len(failures) == 1
