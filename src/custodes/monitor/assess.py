"""The operationalize question for monitors: is each served model monitored, and alive?

``assess`` calls :func:`monitor_evidence` with the project's system model. It reads the
monitors that ``custodes monitor run`` registered in the project's store
(``.custodes/custodes.db``; it never creates one) and, for every model an endpoint serves:

* no monitor reports on it -> a Q2 ``output monitoring`` gap and a finding (medium);
* every monitor of it is stale (no heartbeat within its interval) -> a Q2 gap and a
  finding (high) naming the monitor and since when it is silent.

Evidence beats claims: a model declared under continuous validation whose monitor died
is a gap whatever custodes.yaml says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.system.schema import SystemModel
from custodes.threatmodel.model import Gap

__all__ = ["CHECK", "monitor_evidence"]

CHECK = "output monitoring"
"""The diagnostic check these gaps belong to (Q2, beside continuous validation)."""
STORE_FILE = Path(".custodes") / "custodes.db"


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def monitor_evidence(
    system: SystemModel, root: Path, now: datetime | None = None
) -> tuple[list[Finding], dict[int, list[Gap]]]:
    """Findings and Q2 gaps about the monitors of the models the endpoints serve."""
    from custodes.monitor.registry import MonitorStatus, read_statuses
    from custodes.store import open_store

    served = sorted({m for ep in system.endpoints for m in ep.serves})
    if not served:
        return [], {}
    db = root / STORE_FILE
    statuses: list[MonitorStatus] = []
    if db.is_file():
        with open_store(f"sqlite:///{db}", root) as store:
            statuses = read_statuses(store, now)
    findings: list[Finding] = []
    gaps: list[Gap] = []
    loc = Location(str(db) if db.is_file() else str(root / "custodes.yaml"))
    for model in served:
        mine = [s for s in statuses if s.model == model]
        if not mine:
            gaps.append(Gap(CHECK, f"no monitor reports on served model {model}", (model,)))
            findings.append(
                Finding(
                    RuleId("MONITOR-MISSING"),
                    Category.REVIEW,
                    Severity.MEDIUM,
                    f"served model {model} has no monitor: nobody would see its output drift "
                    "or a client extracting it",
                    loc,
                    remediation=f"run custodes monitor run --model {model} --reference ... "
                    "beside the model server and send it prediction records (custodes.monitor.sdk)",
                    subject=model,
                )
            )
            continue
        if any(s.alive for s in mine):
            continue
        for s in mine:
            since = _when(s.last_heartbeat)
            detail = (
                f"monitor {s.name} of {model} is stale since {since} "
                f"(heartbeat interval {s.interval_s:g} s)"
                if s.last_heartbeat is not None
                else f"monitor {s.name} of {model} never sent a heartbeat"
            )
            gaps.append(Gap(CHECK, detail, (model, s.name)))
            findings.append(
                Finding(
                    RuleId("MONITOR-STALE"),
                    Category.REVIEW,
                    Severity.HIGH,
                    detail + ": the model runs unwatched",
                    loc,
                    remediation=f"restart monitor {s.name} (custodes monitor run) and find out "
                    "why it stopped; custodes monitor status --webhook URL alerts on the next "
                    "silence",
                    properties={"monitor": s.name, "last_heartbeat": since},
                    subject=s.name,
                )
            )
    return findings, {2: gaps}
