"""Promotions: request, evidence, sign-off, promote, reject, withdraw, revoke.

A version moves only when :func:`custodes.governance.decision.evaluate` says the evidence
and sign-offs in the store satisfy the policy in force. Two rules are enforced here,
before the policy is even consulted, because no policy may relax them: the content on
disk must still be the registered digest (a sign-off lapses when the bytes change), and
nobody signs off their own request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.errors import NotFoundError, UsageError
from custodes.governance.auditlog import rfc3339
from custodes.governance.decision import (
    Decision,
    EvidenceFact,
    Requirement,
    SignOffFact,
    evaluate,
    short_digest,
)
from custodes.governance.identity import Who
from custodes.governance.policy import LoadedPolicy
from custodes.governance.roles import Action, Role
from custodes.governance.service import Governance, Refused
from custodes.store.models import (
    Artifact,
    ArtifactVersion,
    Evidence,
    PromotionRequest,
    SignOff,
    StageChange,
)

__all__ = [
    "ARCHIVED",
    "Status",
    "attach_evidence",
    "promote",
    "promotion_summary",
    "request",
    "request_summary",
    "resolve",
    "revoke",
    "sign_off",
    "signoff_summary",
    "status",
    "withdraw",
]

#: Where a version goes when a newer version of the same artifact takes its stage.
ARCHIVED = "archived"
_TERMINAL = ("rejected", "revoked", ARCHIVED)
_DEAD = ("rejected", "revoked")
_SIGNING_ROLES = (Role.SECURITY_REVIEWER.value, Role.APPROVER.value)


def resolve(session: Session, ref: str) -> tuple[Artifact, ArtifactVersion]:
    """``NAME`` (newest version) or ``NAME@sha256:PREFIX`` (that version)."""
    name, _, prefix = ref.partition("@")
    artifact = session.execute(select(Artifact).where(Artifact.name == name)).scalar_one_or_none()
    if artifact is None:
        raise NotFoundError(f"no artifact {name!r} in the registry", hint="custodes registry list")
    query = select(ArtifactVersion).where(ArtifactVersion.artifact_id == artifact.id)
    if prefix:
        if not prefix.startswith("sha256:"):
            prefix = "sha256:" + prefix
        matches = (
            session.execute(query.where(ArtifactVersion.digest.startswith(prefix))).scalars().all()
        )
        if len(matches) != 1:
            what = "no version" if not matches else f"{len(matches)} versions"
            raise UsageError(f"{what} of {name!r} match {prefix}")
        return artifact, matches[0]
    version = session.execute(
        query.order_by(ArtifactVersion.id.desc()).limit(1)
    ).scalar_one_or_none()
    if version is None:
        raise NotFoundError(f"{name!r} has no registered version")
    return artifact, version


def _unchanged(gov: Governance, version: ArtifactVersion, name: str) -> None:
    """Refuse when the bytes on disk are no longer the version that was registered."""
    from custodes.governance.evidence import content_digest

    path = gov.local_path(version.path)
    if not path.exists():
        raise Refused(f"{name}: {version.path} is no longer there; its sign-offs cannot apply")
    now = content_digest(path)
    if now != version.digest:
        raise Refused(
            f"{name}: {version.path} changed since it was registered "
            f"({short_digest(version.digest)} → {short_digest(now)}); sign-offs and evidence "
            "for the old content lapse",
            hint="register the new content: custodes registry register",
        )


def _open_request(session: Session, version: ArtifactVersion) -> PromotionRequest | None:
    return session.execute(
        select(PromotionRequest).where(
            PromotionRequest.version_id == version.id, PromotionRequest.state == "open"
        )
    ).scalar_one_or_none()


def _move(
    gov: Governance,
    session: Session,
    version: ArtifactVersion,
    to: str,
    by: str,
    request_id: int | None,
) -> None:
    session.add(
        StageChange(
            version_id=version.id,
            from_stage=version.stage,
            to_stage=to,
            by=by,
            request_id=request_id,
        )
    )
    version.stage = to


def _facts(session: Session, version: ArtifactVersion) -> list[EvidenceFact]:
    rows = session.execute(
        select(Evidence).where(Evidence.version_id == version.id).order_by(Evidence.id)
    ).scalars()
    return [
        EvidenceFact(e.kind, e.digest, json.loads(e.summary), e.produced_by, e.produced_at)
        for e in rows
    ]


def _signoff_facts(session: Session, req: PromotionRequest) -> list[SignOffFact]:
    rows = session.execute(
        select(SignOff).where(SignOff.request_id == req.id).order_by(SignOff.id)
    ).scalars()
    out = []
    for s in rows:
        roles = s.role.split("+")
        decision: Literal["approve", "reject"] = "approve" if s.decision == "approve" else "reject"
        out += [SignOffFact(s.principal_id, roles, r, decision, s.digest, s.at) for r in roles]
    return out


def _dataset_facts(
    session: Session, policy: LoadedPolicy, to: str, kind: str
) -> tuple[dict[str, list[EvidenceFact]], dict[str, str], list[Requirement]]:
    """Evidence of the datasets a rule names, and why any of them cannot count at all."""
    rule = policy.model.rule_for(to, kind)
    names = rule.require.datasets_ok if rule is not None else []
    evidence: dict[str, list[EvidenceFact]] = {}
    digests: dict[str, str] = {}
    dead: list[Requirement] = []
    for name in names:
        try:
            _, version = resolve(session, name)
        except UsageError:
            continue
        if version.stage in _DEAD:
            # A revoked (e.g. found poisoned) or rejected dataset's old passing check
            # must not carry a model trained on it forward.
            dead.append(
                Requirement(
                    f"dataset:{name}",
                    f"dataset {name} checked with verdict ok (its newest version "
                    f"{short_digest(version.digest)} was {version.stage})",
                )
            )
            continue
        evidence[name] = _facts(session, version)
        digests[name] = version.digest
    return evidence, digests, dead


def decide(
    gov: Governance,
    session: Session,
    artifact: Artifact,
    version: ArtifactVersion,
    req: PromotionRequest | None = None,
) -> tuple[PromotionRequest | None, Decision | None]:
    """The open request of a version (or ``req``, e.g. a closed one, for a report) and
    what the policy says about it right now."""
    req = req if req is not None else _open_request(session, version)
    if req is None:
        return None, None
    policy = gov.policy(session)
    datasets: dict[str, list[EvidenceFact]] = {}
    digests: dict[str, str] = {}
    dead: list[Requirement] = []
    if isinstance(policy, LoadedPolicy):
        datasets, digests, dead = _dataset_facts(session, policy, req.to_stage, artifact.kind)
    decision = evaluate(
        policy,
        kind=artifact.kind,
        from_stage=req.from_stage,
        to_stage=req.to_stage,
        digest=version.digest,
        requester=req.requested_by,
        evidence=_facts(session, version),
        signoffs=_signoff_facts(session, req),
        dataset_evidence=datasets,
        dataset_digests=digests,
    )
    if dead:
        keys = {d.key for d in dead}
        missing = [m for m in decision.missing if m.key not in keys] + dead
        satisfied = [m for m in decision.satisfied if m.key not in keys]
        decision = Decision(allowed=False, missing=missing, satisfied=satisfied)
    return req, decision


def attach_evidence(
    gov: Governance,
    credential: Who,
    ref: str,
    kinds: list[str],
    *,
    baseline: Path | None = None,
    public_keys: list[Path] | None = None,
) -> list[dict[str, Any]]:
    """Run custodes' own analyzers on the version and record what they found."""
    from custodes.governance import evidence as ev

    actor = gov.act(credential, Action.ATTACH_EVIDENCE)
    with gov.read() as session:
        artifact, version = resolve(session, ref)
    _unchanged(gov, version, artifact.name)
    path = gov.local_path(version.path)
    results = []
    for kind in kinds:
        if kind == "scan":
            summary = ev.scan_evidence(path)
        elif kind == "data_check":
            summary = ev.data_check_evidence(path, baseline)
        elif kind == "threat_model":
            summary = ev.threat_model_evidence(gov.project / "custodes.yaml")
        elif kind == "provenance":
            manifest = gov.local_path(version.manifest) if version.manifest else None
            summary = ev.provenance_evidence(path, manifest, public_keys or [])
        else:
            raise UsageError(
                f"unknown evidence kind {kind!r} (one of {', '.join(ev.EVIDENCE_KINDS)})"
            )
        results.append({"kind": kind, "summary": summary})
    # The analyzers took a while: the evidence describes the registered bytes only if
    # they are still the registered bytes now.
    _unchanged(gov, version, artifact.name)
    with gov.write() as session:
        _, version = resolve(session, f"{artifact.name}@{version.digest}")
        for r in results:
            session.add(
                Evidence(
                    version_id=version.id,
                    digest=version.digest,
                    kind=r["kind"],
                    summary=json.dumps(r["summary"], sort_keys=True),
                    produced_by=actor.principal,
                )
            )
            gov.log(
                session,
                "evidence.attached",
                actor.principal,
                {"artifact": artifact.name, "digest": version.digest, **r},
            )
    return results


def request(
    gov: Governance, credential: Who, ref: str, to: str | None, note: str | None
) -> tuple[PromotionRequest, Decision | None]:
    """Open a request to move a version to the next stage."""
    actor = gov.act(credential, Action.REQUEST)
    with gov.write() as session:
        artifact, version = resolve(session, ref)
        stages = gov.stages(session)
        if version.stage not in stages:
            raise Refused(f"{artifact.name} is {version.stage}; it cannot be promoted")
        i = stages.index(version.stage)
        if i + 1 >= len(stages):
            raise Refused(f"{artifact.name} is already in {version.stage}, the last stage")
        target = to or stages[i + 1]
        if target != stages[i + 1]:
            raise Refused(
                f"{artifact.name} is in {version.stage}; the next stage is {stages[i + 1]}, "
                f"not {target} (stages are not skipped)"
            )
        if _open_request(session, version) is not None:
            raise UsageError(
                f"{artifact.name} already has an open request", hint="custodes gate status"
            )
        req = PromotionRequest(
            version_id=version.id,
            from_stage=version.stage,
            to_stage=target,
            requested_by=actor.principal,
            note=note,
        )
        session.add(req)
        session.flush()
        gov.log(
            session,
            "promotion.requested",
            actor.principal,
            {
                "request": req.id,
                "artifact": artifact.name,
                "digest": version.digest,
                "from": req.from_stage,
                "to": target,
                "note": note,
            },
        )
    with gov.read() as session:
        artifact, version = resolve(session, f"{artifact.name}@{version.digest}")
        _, decision = decide(gov, session, artifact, version)
    return req, decision


def sign_off(
    gov: Governance, credential: Who, ref: str, decision: str, comment: str | None
) -> SignOff:
    """Approve or reject the open request of a version, signed with the person's key."""
    action = Action.APPROVE if decision == "approve" else Action.REJECT
    actor = gov.act(credential, action)
    with gov.read() as session:
        artifact, version = resolve(session, ref)
        req = _open_request(session, version)
    if req is None:
        raise UsageError(f"{artifact.name} has no open request to {decision}")
    if req.requested_by == actor.principal:
        gov.log_alone(
            "signoff.refused",
            actor.principal,
            {"request": req.id, "artifact": artifact.name, "reason": "own request"},
        )
        raise Refused(
            f"{actor.principal} requested this promotion and cannot sign it off "
            "(separation of duties)"
        )
    _unchanged(gov, version, artifact.name)
    roles = [r for r in actor.roles if r in _SIGNING_ROLES] or list(actor.roles)
    statement = {
        "request": req.id,
        "artifact": artifact.name,
        "digest": version.digest,
        "decision": decision,
        "principal": actor.principal,
        "comment": comment,
    }
    if actor.credential is not None:
        signed = actor.credential.sign(statement)
    else:
        # Through the server the person proved who they are with a token or a login
        # session, not a key: the server vouches, with the log key, for what they said.
        signed = {"signature": gov.vouch(statement, actor)}
    with gov.write() as session:
        req = session.get(PromotionRequest, req.id)
        assert req is not None
        if req.state != "open":
            raise UsageError(f"request {req.id} is already {req.state}")
        current = session.get(ArtifactVersion, version.id)
        assert current is not None
        version = current
        again = session.execute(
            select(SignOff).where(
                SignOff.request_id == req.id,
                SignOff.principal_id == actor.principal,
                SignOff.decision == decision,
                SignOff.digest == version.digest,
            )
        ).scalar_one_or_none()
        if again is not None:
            # The same person saying the same thing twice (a retried request after a
            # dropped connection) is one sign-off, and one audit entry.
            return again
        row = SignOff(
            request_id=req.id,
            principal_id=actor.principal,
            role="+".join(roles),
            decision=decision,
            digest=version.digest,
            comment=comment,
            signature=json.dumps(signed["signature"], sort_keys=True),
        )
        session.add(row)
        gov.log(
            session,
            "signoff.recorded",
            actor.principal,
            {
                "request": req.id,
                "artifact": artifact.name,
                "digest": version.digest,
                "decision": decision,
                "roles": roles,
                "comment": comment,
                "signature": signed["signature"],
            },
        )
        if decision == "reject":
            req.state = "rejected"
            req.closed_at = row.at
            _move(gov, session, version, "rejected", actor.principal, req.id)
            gov.log(
                session,
                "promotion.rejected",
                actor.principal,
                {"request": req.id, "artifact": artifact.name, "digest": version.digest},
            )
    return row


def promote(gov: Governance, credential: Who, ref: str) -> Decision:
    """Move the version when the policy allows; refused with everything that is missing."""
    actor = gov.act(credential, Action.PROMOTE)
    with gov.read() as session:
        artifact, version = resolve(session, ref)
    _unchanged(gov, version, artifact.name)
    with gov.write() as session:
        artifact, version = resolve(session, f"{artifact.name}@{version.digest}")
        req, decision = decide(gov, session, artifact, version)
        if req is None or decision is None:
            raise UsageError(
                f"{artifact.name} has no open request",
                hint="custodes gate request " + artifact.name,
            )
        policy = gov.policy(session)
        if decision.allowed:
            _complete(gov, session, actor.principal, artifact, version, req, policy)
    if not decision.allowed:
        gov.log_alone(
            "promotion.refused",
            actor.principal,
            {
                "request": req.id,
                "artifact": artifact.name,
                "digest": version.digest,
                "missing": [m.key for m in decision.missing],
            },
        )
        raise Refused(
            f"{artifact.name} may not move {req.from_stage} → {req.to_stage}",
            [m.text for m in decision.missing],
        )
    return decision


def _complete(
    gov: Governance,
    session: Session,
    by: str,
    artifact: Artifact,
    version: ArtifactVersion,
    req: PromotionRequest,
    policy: Any,
) -> None:
    previous = (
        session.execute(
            select(ArtifactVersion).where(
                ArtifactVersion.artifact_id == artifact.id,
                ArtifactVersion.stage == req.to_stage,
                ArtifactVersion.id != version.id,
            )
        )
        .scalars()
        .all()
    )
    for old in previous:
        _move(gov, session, old, ARCHIVED, by, req.id)
        gov.log(
            session,
            "artifact.archived",
            by,
            {"artifact": artifact.name, "digest": old.digest, "stage": req.to_stage},
        )
    _move(gov, session, version, req.to_stage, by, req.id)
    req.state = "promoted"
    approvers = sorted(
        {
            s.principal_id
            for s in session.execute(
                select(SignOff).where(SignOff.request_id == req.id, SignOff.decision == "approve")
            ).scalars()
        }
    )
    gov.log(
        session,
        "promotion.completed",
        by,
        {
            "request": req.id,
            "artifact": artifact.name,
            "digest": version.digest,
            "from": req.from_stage,
            "to": req.to_stage,
            "approvers": approvers,
            "policy": policy.digest if isinstance(policy, LoadedPolicy) else None,
        },
    )


def withdraw(gov: Governance, credential: Who, ref: str) -> None:
    actor = gov.act(credential, Action.WITHDRAW)
    with gov.write() as session:
        artifact, version = resolve(session, ref)
        req = _open_request(session, version)
        if req is None:
            raise UsageError(f"{artifact.name} has no open request")
        if req.requested_by != actor.principal:
            raise Refused(f"only {req.requested_by}, who opened request {req.id}, can withdraw it")
        req.state = "withdrawn"
        gov.log(
            session,
            "promotion.withdrawn",
            actor.principal,
            {"request": req.id, "artifact": artifact.name, "digest": version.digest},
        )


def _revocable(session: Session, ref: str) -> tuple[Artifact, ArtifactVersion]:
    """The version a revocation means. ``NAME@digest`` is exact; a bare ``NAME`` must be
    unambiguous, because "the newest version" is the wrong guess when what needs pulling
    is the one in production while a newer one waits in dev."""
    artifact, newest = resolve(session, ref)
    if "@" in ref:
        return artifact, newest
    live = (
        session.execute(
            select(ArtifactVersion).where(
                ArtifactVersion.artifact_id == artifact.id,
                ArtifactVersion.stage.not_in(_TERMINAL),
            )
        )
        .scalars()
        .all()
    )
    if len(live) > 1:
        which = ", ".join(f"{v.stage} {short_digest(v.digest)}" for v in live)
        raise UsageError(
            f"{artifact.name} has {len(live)} live versions ({which}); say which one",
            hint=f"custodes gate revoke {artifact.name}@sha256:PREFIX --reason ...",
        )
    return artifact, live[0] if live else newest


def revoke(gov: Governance, credential: Who, ref: str, reason: str) -> ArtifactVersion:
    """Pull a version out of every stage, effective at once; the reason is on record."""
    if not reason.strip():
        raise UsageError("a revocation needs --reason")
    actor = gov.act(credential, Action.REVOKE)
    with gov.write() as session:
        artifact, version = _revocable(session, ref)
        if version.stage in _TERMINAL:
            raise UsageError(f"{artifact.name} is already {version.stage}")
        req = _open_request(session, version)
        if req is not None:
            req.state = "withdrawn"
        stage = version.stage
        _move(gov, session, version, "revoked", actor.principal, None)
        gov.log(
            session,
            "artifact.revoked",
            actor.principal,
            {"artifact": artifact.name, "digest": version.digest, "from": stage, "reason": reason},
        )
    return version


@dataclass
class Status:
    """Where a version stands: its stage, open request and what is still missing."""

    artifact: str
    kind: str
    digest: str
    stage: str
    path: str
    request: dict[str, Any] | None = None
    allowed: bool | None = None
    missing: list[str] = field(default_factory=list)
    satisfied: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    signoffs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "kind": self.kind,
            "digest": self.digest,
            "stage": self.stage,
            "path": self.path,
            "request": self.request,
            "allowed": self.allowed,
            "missing": self.missing,
            "satisfied": self.satisfied,
            "evidence": self.evidence,
            "signoffs": self.signoffs,
        }


def status(gov: Governance, credential: Who, ref: str) -> Status:
    gov.act(credential, Action.READ)

    with gov.read() as session:
        artifact, version = resolve(session, ref)
        req, decision = decide(gov, session, artifact, version)
        st = Status(artifact.name, artifact.kind, version.digest, version.stage, version.path)
        st.evidence = [
            {
                "kind": e.kind,
                "digest": e.digest,
                "summary": e.summary,
                "by": e.produced_by,
                "at": rfc3339(e.produced_at),
            }
            for e in _facts(session, version)
        ]
        if req is not None and decision is not None:
            st.request = request_record(req)
            st.allowed = decision.allowed
            st.missing = [m.text for m in decision.missing]
            st.satisfied = [m.text for m in decision.satisfied]
            st.signoffs = [
                {**signoff_summary(s), "at": rfc3339(s.at), "comment": s.comment}
                for s in session.execute(
                    select(SignOff).where(SignOff.request_id == req.id).order_by(SignOff.id)
                ).scalars()
            ]
    return st


def request_record(req: PromotionRequest) -> dict[str, Any]:
    """A promotion request as status, assess and the dashboard show it."""
    return {
        "id": req.id,
        "from": req.from_stage,
        "to": req.to_stage,
        "by": req.requested_by,
        "at": rfc3339(req.requested_at),
        "note": req.note,
    }


def request_summary(req: PromotionRequest, decision: Decision | None) -> dict[str, Any]:
    """What :func:`request` returns, as the CLI and the API report it."""
    return {
        "request": req.id,
        "from": req.from_stage,
        "to": req.to_stage,
        "allowed": decision.allowed if decision else None,
        "missing": [m.text for m in decision.missing] if decision else [],
        "satisfied": [s.text for s in decision.satisfied] if decision else [],
    }


def signoff_summary(row: SignOff) -> dict[str, Any]:
    """What :func:`sign_off` returns, as the CLI and the API report it."""
    return {
        "by": row.principal_id,
        "role": row.role,
        "decision": row.decision,
        "digest": row.digest,
    }


def promotion_summary(decision: Decision) -> dict[str, Any]:
    """What :func:`promote` returns, as the CLI and the API report it."""
    return {"promoted": True, "satisfied": [s.text for s in decision.satisfied]}
