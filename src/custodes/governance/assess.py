"""Where each registered artifact stands at the gates, for ``custodes assess``.

For the newest version of every artifact in the project's governance store: its stage,
the gates it has passed (stage changes and who approved them), its open request, and
which requirements of the policy in force it meets and which it lacks. The requirements
come from :func:`custodes.governance.gates.decide`, the same call the gates make, so the
report and the gate can never disagree:

- with an open request, the request as it stands;
- in the last stage, the rule that put it there, re-read against today's evidence (does
  the model in production still meet the production rule?);
- rejected or revoked, the request that was refused, so the reason is on the page;
- otherwise, what moving to the next stage would need.

The audit log is verified too (every leaf, root and signed head, and the witness head):
a gate history that does not verify proves nothing about who approved what.

Reading is done as an auditor who changes nothing; no key is needed, and a project with
no store (or a store holding only monitors) has no governance status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodes.errors import CustodesError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.threatmodel.model import Gap

__all__ = ["ArtifactGate", "GovernanceStatus", "governance_gaps", "governance_status"]


@dataclass(frozen=True)
class ArtifactGate:
    """One artifact's newest version at the gates."""

    artifact: str
    kind: str
    digest: str
    path: str
    stage: str
    versions: int
    basis: str
    """What the requirements were evaluated for: ``request`` (the open request),
    ``in force`` (the rule of the stage it is in), ``rejected``/``revoked`` (the refused
    request), ``next stage`` (no request yet), or ``none`` (archived, no rule)."""
    target: str | None
    """The stage the requirements lead to."""
    allowed: bool | None
    satisfied: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    passed: tuple[dict[str, Any], ...] = ()
    """Gates passed: {from, to, at, by, approvers} for each move into a policy stage."""
    request: dict[str, Any] | None = None
    """The open request: {id, from, to, by, at, note}."""
    decision: dict[str, Any] | None = None
    """Why it is rejected or revoked: {by, role, at, comment}."""
    evidence: tuple[str, ...] = ()
    """Kinds of evidence on record for this version, oldest first."""
    content: str = "unchanged"
    """``unchanged``, ``changed`` (bytes on disk differ from the registered digest) or
    ``missing``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "kind": self.kind,
            "digest": self.digest,
            "path": self.path,
            "stage": self.stage,
            "versions": self.versions,
            "basis": self.basis,
            "target": self.target,
            "allowed": self.allowed,
            "satisfied": list(self.satisfied),
            "missing": list(self.missing),
            "passed": [dict(p) for p in self.passed],
            "request": self.request,
            "decision": self.decision,
            "evidence": list(self.evidence),
            "content": self.content,
        }


@dataclass(frozen=True)
class GovernanceStatus:
    """The project's governance store as assess sees it."""

    store: str
    policy: str
    """Digest of the policy in force, or why none is (every gate then refuses)."""
    policy_in_force: bool
    artifacts: tuple[ArtifactGate, ...] = ()
    log_ok: bool = False
    log_size: int = 0
    log_reason: str = ""
    log_first_bad: int | None = None
    error: str | None = None
    people: int = 0
    stages: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "policy": self.policy,
            "policy_in_force": self.policy_in_force,
            "people": self.people,
            "stages": list(self.stages),
            "audit_log": {
                "verified": self.log_ok,
                "entries": self.log_size,
                "reason": self.log_reason,
                "first_bad": self.log_first_bad,
            },
            "artifacts": [a.to_json() for a in self.artifacts],
            "error": self.error,
        }


def _has_store(root: Path) -> bool:
    from custodes.governance.auditlog import LOG_KEY_NAME
    from custodes.governance.service import STORE_DIR

    folder = root / STORE_DIR
    # Without its log key a folder holds no governance store (the monitors' store can
    # exist alone); opening it would create a key, and assess changes nothing.
    return (folder / "custodes.db").is_file() and (folder / f"{LOG_KEY_NAME}.pem").is_file()


def governance_status(root: Path) -> GovernanceStatus | None:
    """The gate status of every artifact in ROOT's store; None when there is no store."""
    if not _has_store(root):
        return None
    from custodes.governance.service import Governance

    try:
        gov = Governance.open(root, create=False)
    except CustodesError as exc:
        return GovernanceStatus(str(root), "", False, error=exc.diagnostics())
    try:
        return _status(gov)
    except CustodesError as exc:
        return GovernanceStatus(gov.store.url, "", False, error=exc.diagnostics())
    finally:
        gov.close()


def _status(gov: Any) -> GovernanceStatus | None:
    from sqlalchemy import func, select

    from custodes.governance import auditlog
    from custodes.governance.identity import Actor
    from custodes.governance.policy import LoadedPolicy
    from custodes.governance.roles import Action
    from custodes.store.models import Artifact, Principal

    reader = Actor("custodes-assess", ("auditor",), "-")
    gov.act(reader, Action.READ)
    with gov.read() as session:
        people = session.execute(select(func.count()).select_from(Principal)).scalar_one()
        artifacts = session.execute(select(Artifact).order_by(Artifact.name)).scalars().all()
        if not people and not artifacts:
            return None
        policy = gov.policy(session)
        stages = gov.stages(session)
        rows = [_artifact(gov, session, a, stages) for a in artifacts]
        log = auditlog.verify(
            session, gov.signer.public_key, trusted_head=gov.witness_or_none(), signer=gov.signer
        )
    in_force = isinstance(policy, LoadedPolicy)
    return GovernanceStatus(
        store=gov.store.url,
        policy=policy.digest if isinstance(policy, LoadedPolicy) else policy.reason,
        policy_in_force=in_force,
        artifacts=tuple(rows),
        log_ok=log.ok,
        log_size=log.size,
        log_reason=log.reason,
        log_first_bad=log.first_bad,
        people=people,
        stages=tuple(stages),
    )


def _artifact(gov: Any, session: Any, artifact: Any, stages: tuple[str, ...]) -> ArtifactGate:
    from sqlalchemy import func, select

    from custodes.governance import gates
    from custodes.governance.auditlog import rfc3339
    from custodes.governance.queries import approvers
    from custodes.store.models import ArtifactVersion, Evidence, PromotionRequest, StageChange

    _, version = gates.resolve(session, artifact.name)
    versions = session.execute(
        select(func.count())
        .select_from(ArtifactVersion)
        .where(ArtifactVersion.artifact_id == artifact.id)
    ).scalar_one()
    changes = (
        session.execute(
            select(StageChange).where(StageChange.version_id == version.id).order_by(StageChange.id)
        )
        .scalars()
        .all()
    )
    passed = tuple(
        {
            "from": c.from_stage,
            "to": c.to_stage,
            "at": rfc3339(c.at),
            "by": c.by,
            "approvers": approvers(session, c.request_id),
        }
        for c in changes
        if c.to_stage in stages
    )
    requests = (
        session.execute(
            select(PromotionRequest)
            .where(PromotionRequest.version_id == version.id)
            .order_by(PromotionRequest.id)
        )
        .scalars()
        .all()
    )
    open_req = next((r for r in requests if r.state == "open"), None)
    basis, target, req, decision_info = "none", None, None, None
    if open_req is not None:
        basis, target, req = "request", open_req.to_stage, open_req
    elif version.stage in ("rejected", "revoked"):
        basis = version.stage
        refused = [r for r in requests if r.state in ("rejected", "withdrawn")]
        req = refused[-1] if refused else None
        target = req.to_stage if req is not None else None
        decision_info = _why_dead(session, version, changes)
    elif version.stage in stages and version.stage == stages[-1]:
        into = [c for c in changes if c.to_stage == version.stage and c.request_id is not None]
        req = session.get(PromotionRequest, into[-1].request_id) if into else None
        basis, target = "in force", version.stage
    elif version.stage in stages:
        # No request yet: what the next stage would need (no sign-offs can exist).
        i = stages.index(version.stage)
        basis, target = "next stage", stages[i + 1]
        req = PromotionRequest(
            version_id=version.id,
            from_stage=version.stage,
            to_stage=target,
            requested_by="",
            state="open",
        )
    allowed: bool | None = None
    satisfied: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    if req is not None:
        _, decision = gates.decide(gov, session, artifact, version, req)
        if decision is not None:
            allowed = decision.allowed
            # "X → Y is the next stage" says nothing a reader needs once it holds.
            satisfied = tuple(m.text for m in decision.satisfied if m.key != "stage")
            missing = tuple(m.text for m in decision.missing)
    kinds = session.execute(
        select(Evidence.kind).where(Evidence.version_id == version.id).order_by(Evidence.id)
    ).scalars()
    request_info = None if open_req is None else gates.request_record(open_req)
    return ArtifactGate(
        artifact=artifact.name,
        kind=artifact.kind,
        digest=version.digest,
        path=version.path,
        stage=version.stage,
        versions=versions,
        basis=basis,
        target=target,
        allowed=allowed,
        satisfied=satisfied,
        missing=missing,
        passed=passed,
        request=request_info,
        decision=decision_info,
        evidence=tuple(dict.fromkeys(kinds)),
        content=_content(gov, version),
    )


def _why_dead(session: Any, version: Any, changes: Any) -> dict[str, Any] | None:
    """Who rejected or revoked the version, when, and what they wrote."""
    from sqlalchemy import select

    from custodes.governance.auditlog import rfc3339
    from custodes.store.models import LogEntry, SignOff

    into = [c for c in changes if c.to_stage == version.stage]
    if not into:
        return None
    change = into[-1]
    if version.stage == "rejected" and change.request_id is not None:
        row = session.execute(
            select(SignOff)
            .where(SignOff.request_id == change.request_id, SignOff.decision == "reject")
            .order_by(SignOff.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is not None:
            return {
                "by": row.principal_id,
                "role": row.role,
                "at": rfc3339(row.at),
                "comment": row.comment,
            }
    comment = None
    for payload in session.execute(
        select(LogEntry.payload).where(LogEntry.kind == "artifact.revoked").order_by(LogEntry.seq)
    ).scalars():
        data = json.loads(payload).get("data", {})
        if data.get("digest") == version.digest:
            comment = data.get("reason")
    return {"by": change.by, "role": None, "at": rfc3339(change.at), "comment": comment}


def _content(gov: Any, version: Any) -> str:
    from custodes.governance.evidence import content_digest

    path = gov.local_path(version.path)
    if not path.exists():
        return "missing"
    try:
        return "unchanged" if content_digest(path) == version.digest else "changed"
    except CustodesError:
        return "changed"


def governance_gaps(status: GovernanceStatus | None) -> tuple[list[Finding], dict[int, list[Gap]]]:
    """Findings and diagnostic-loop gaps the gate status proves."""
    findings: list[Finding] = []
    gaps: dict[int, list[Gap]] = {2: []}
    if status is None:
        return findings, gaps
    where = Location(path=".custodes")
    if status.error is not None:
        findings.append(
            Finding(
                rule_id=RuleId("GOV-STORE-UNREADABLE"),
                category=Category.GOVERNANCE,
                severity=Severity.MEDIUM,
                message=f"the governance store cannot be read: {status.error}",
                location=where,
                remediation="custodes audit verify and custodes registry list show the same error",
                subject="store",
            )
        )
        return findings, gaps
    served = [a for a in status.artifacts if status.stages and a.stage == status.stages[-1]]
    if not status.log_ok:
        at = f"entry {status.log_first_bad}: " if status.log_first_bad is not None else ""
        findings.append(
            Finding(
                rule_id=RuleId("GOV-AUDIT-LOG-FAILED"),
                category=Category.GOVERNANCE,
                severity=Severity.HIGH,
                message=f"the governance audit log does not verify ({at}{status.log_reason}): "
                "nobody can show who approved what reached production",
                location=where,
                remediation="custodes audit verify names the first bad entry; restore the "
                "store from a backup that verifies against the witness head",
                subject="audit-log",
            )
        )
        gaps[2].append(
            Gap(
                "audit trail",
                f"the audit log does not verify ({at}{status.log_reason})"
                + (f"; {len(served)} artifact(s) in production rest on it" if served else ""),
                tuple(a.artifact for a in served),
            )
        )
    for a in status.artifacts:
        if a.content != "unchanged" and a.stage not in ("rejected", "revoked", "archived"):
            findings.append(
                Finding(
                    rule_id=RuleId("GOV-CONTENT-CHANGED"),
                    category=Category.GOVERNANCE,
                    severity=Severity.HIGH if a in served else Severity.MEDIUM,
                    message=f"{a.kind} {a.artifact} ({a.stage}): {a.path} is {a.content} since "
                    "it was registered; its evidence and sign-offs no longer apply",
                    location=Location(path=a.path),
                    remediation="register the new content and take it through the gates: "
                    "custodes registry register",
                    subject=a.artifact,
                )
            )
        if a in served and a.missing:
            gaps[2].append(
                Gap(
                    "promotion gates",
                    f"{a.kind} {a.artifact} is in {a.stage} but no longer meets its rule: "
                    + "; ".join(a.missing),
                    (a.artifact,),
                )
            )
        if a.stage in ("rejected", "revoked") and _poisoning(a):
            who = ""
            if a.decision:
                who = f" by {a.decision['by']} on {a.decision['at'][:10]}"
            gaps[2].append(
                Gap(
                    "promotion gates",
                    f"{a.kind} {a.artifact} was {a.stage}{who} for suspected poisoning "
                    f"({a.path}): the gate held, now trace the source and keep it out of "
                    "training",
                    (a.artifact,),
                )
            )
    return findings, gaps


def _poisoning(a: ArtifactGate) -> bool:
    texts = [*a.missing, (a.decision or {}).get("comment") or ""]
    return any("poison" in t for t in texts)
