"""assess asks: is each served model monitored, and is its monitor alive?"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from custodes.assess import assess
from custodes.demo import write_examples
from custodes.governance.service import Governance
from custodes.monitor.registry import heartbeat, register_monitor

from ..conftest import Result

SYSTEM = """\
version: 1
system: {name: s, owner: o}
models:
  - {id: m, format: onnx}
endpoints:
  - {id: api, callers: authenticated_users, authentication: true, serves: [m]}
"""
TODAY = date(2026, 11, 26)


def _q2(a: object) -> object:
    tm = a.threat_model  # type: ignore[attr-defined]
    assert tm is not None
    return tm.diagnostic.questions[1]


def _monitor_gaps(a: object) -> list[str]:
    return [
        g.detail for g in _q2(a).gaps if g.check == "output monitoring" and "monitor " in g.detail
    ]  # type: ignore[attr-defined]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "custodes.yaml").write_text(SYSTEM)
    return tmp_path


def test_served_model_without_a_monitor_is_a_q2_gap(project: Path) -> None:
    a = assess(project, today=TODAY, scan=False)
    assert _monitor_gaps(a) == ["no monitor reports on served model m"]
    [f] = [f for f in a.findings if f.rule_id == "MONITOR-MISSING"]
    assert f.subject == "m"
    assert "monitor" not in a.analyzers  # no store was read, and none was created
    assert not (project / ".custodes").exists()


def test_alive_monitor_closes_the_gap_and_a_dead_one_reopens_it(project: Path) -> None:
    now = datetime.now(UTC)
    with Governance.open(project) as gov:
        register_monitor(gov, "m-mon", "m", 60, {"window": "1h"})
        heartbeat(gov.store, "m-mon", at=now)
    a = assess(project, today=TODAY, scan=False)
    assert "monitor" in a.analyzers
    assert _monitor_gaps(a) == []
    assert not [f for f in a.findings if f.rule_id.startswith("MONITOR-")]

    with Governance.open(project) as gov, gov.write() as s:
        from custodes.store.models import MonitorRecord

        row = s.get(MonitorRecord, "m-mon")
        assert row is not None
        row.last_heartbeat = now - timedelta(minutes=5)
    a = assess(project, today=TODAY, scan=False)
    [gap] = _monitor_gaps(a)
    assert gap.startswith("monitor m-mon of m is stale since ")
    [f] = [f for f in a.findings if f.rule_id == "MONITOR-STALE"]
    assert f.severity.value == "high"
    assert not any(p.startswith("output monitoring") for p in _q2(a).passed)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_health_demo_monitor_dies_mid_week(tmp_path: Path) -> None:
    [project] = write_examples(tmp_path, ["health-outcomes"])
    assert (project / "monitoring" / "predictions-week.jsonl").stat().st_size > 1_000_000
    # The store's audit-log key lives in .custodes, which git ignores and the scanner skips.
    assert (project / ".custodes" / ".gitignore").is_file()
    a = assess(project, today=TODAY, scan=False)
    [f] = [f for f in a.findings if f.rule_id == "MONITOR-STALE"]
    assert "outcome-api-monitor of outcome-model is stale since 2026-11-05 12:00 UTC" in f.message
    assert _q2(a).answer != "yes"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_demo_names_the_extraction_client_and_the_dead_monitor(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    r = cli("demo", tmp_path / "demo", "--today", "2026-11-26")
    assert r.code == 0, r.err
    text = " ".join(r.out.split())
    assert "client probe-7 suspected of model extraction" in text
    assert (
        "monitor outcome-api-monitor of outcome-model is stale since 2026-11-05 12:00 UTC" in text
    )
