"""Read-only questions to the registry: what is where, and what was where when.

"What was in production on 3 March, and who put it there?" is answered from the stage
changes, which are written in the same transaction as their audit-log entries, so the
answer can be checked against the log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from custodes.governance.auditlog import rfc3339
from custodes.governance.gates import resolve
from custodes.governance.identity import Who
from custodes.governance.roles import Action
from custodes.governance.service import Governance
from custodes.store.models import (
    Artifact,
    ArtifactVersion,
    PromotionRequest,
    SignOff,
    StageChange,
)

__all__ = ["approvers", "history", "in_stage_at", "list_versions", "show"]


def list_versions(
    gov: Governance, credential: Who, stage: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Every version (or those in one stage / of one kind), newest first."""
    gov.act(credential, Action.READ)
    with gov.read() as session:
        query = select(Artifact, ArtifactVersion).join(
            ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id
        )
        if stage:
            query = query.where(ArtifactVersion.stage == stage)
        if kind:
            query = query.where(Artifact.kind == kind)
        rows = session.execute(query.order_by(Artifact.name, ArtifactVersion.id.desc())).all()
    return [
        {
            "artifact": a.name,
            "kind": a.kind,
            "digest": v.digest,
            "stage": v.stage,
            "path": v.path,
            "registered_by": v.registered_by,
            "registered_at": rfc3339(v.registered_at),
        }
        for a, v in rows
    ]


def show(gov: Governance, credential: Who, name: str) -> dict[str, Any]:
    """An artifact with all its versions and their requests."""
    gov.act(credential, Action.READ)
    with gov.read() as session:
        artifact, _ = resolve(session, name)
        versions = (
            session.execute(
                select(ArtifactVersion)
                .where(ArtifactVersion.artifact_id == artifact.id)
                .order_by(ArtifactVersion.id.desc())
            )
            .scalars()
            .all()
        )
        out = []
        for v in versions:
            reqs = session.execute(
                select(PromotionRequest)
                .where(PromotionRequest.version_id == v.id)
                .order_by(PromotionRequest.id)
            ).scalars()
            out.append(
                {
                    "digest": v.digest,
                    "stage": v.stage,
                    "path": v.path,
                    "registered_by": v.registered_by,
                    "registered_at": rfc3339(v.registered_at),
                    "requests": [
                        {
                            "id": r.id,
                            "from": r.from_stage,
                            "to": r.to_stage,
                            "by": r.requested_by,
                            "state": r.state,
                            "at": rfc3339(r.requested_at),
                        }
                        for r in reqs
                    ],
                }
            )
    return {"artifact": artifact.name, "kind": artifact.kind, "versions": out}


def approvers(session: Any, request_id: int | None) -> list[str]:
    """Who approved request ``request_id`` (sorted, each once); none for no request."""
    if request_id is None:
        return []
    rows = session.execute(
        select(SignOff.principal_id).where(
            SignOff.request_id == request_id, SignOff.decision == "approve"
        )
    ).scalars()
    return sorted(set(rows))


def history(gov: Governance, credential: Who, name: str) -> list[dict[str, Any]]:
    """Every stage change of every version of an artifact, oldest first."""
    gov.act(credential, Action.READ)
    with gov.read() as session:
        artifact, _ = resolve(session, name)
        rows = session.execute(
            select(StageChange, ArtifactVersion)
            .join(ArtifactVersion, ArtifactVersion.id == StageChange.version_id)
            .where(ArtifactVersion.artifact_id == artifact.id)
            .order_by(StageChange.id)
        ).all()
        return [
            {
                "at": rfc3339(c.at),
                "digest": v.digest,
                "from": c.from_stage,
                "to": c.to_stage,
                "by": c.by,
                "approvers": approvers(session, c.request_id),
                "request": c.request_id,
            }
            for c, v in rows
        ]


def in_stage_at(
    gov: Governance, credential: Who, stage: str, at: datetime, name: str | None = None
) -> list[dict[str, Any]]:
    """The versions that were in ``stage`` at instant ``at``, with who moved them there.

    A version is in a stage from the change that moved it in until the next change that
    moved it out; registration puts it in the first stage.
    """
    gov.act(credential, Action.READ)
    with gov.read() as session:
        query = (
            select(StageChange, ArtifactVersion, Artifact)
            .join(ArtifactVersion, ArtifactVersion.id == StageChange.version_id)
            .join(Artifact, Artifact.id == ArtifactVersion.artifact_id)
            .where(StageChange.at <= at)
            .order_by(StageChange.id)
        )
        if name is not None:
            query = query.where(Artifact.name == name)
        current: dict[int, tuple[StageChange, ArtifactVersion, Artifact]] = {}
        for change, version, artifact in session.execute(query).all():
            current[version.id] = (change, version, artifact)
        first = gov.stages(session)[0]
        registered = session.execute(
            select(ArtifactVersion, Artifact)
            .join(Artifact, Artifact.id == ArtifactVersion.artifact_id)
            .where(ArtifactVersion.registered_at <= at)
        ).all()
        out = []
        for change, version, artifact in current.values():
            if change.to_stage == stage:
                out.append(
                    {
                        "artifact": artifact.name,
                        "kind": artifact.kind,
                        "digest": version.digest,
                        "since": rfc3339(change.at),
                        "by": change.by,
                        "approvers": approvers(session, change.request_id),
                    }
                )
        if stage == first:
            for version, artifact in registered:
                if version.id not in current and (name is None or artifact.name == name):
                    out.append(
                        {
                            "artifact": artifact.name,
                            "kind": artifact.kind,
                            "digest": version.digest,
                            "since": rfc3339(version.registered_at),
                            "by": version.registered_by,
                            "approvers": [],
                        }
                    )
    return sorted(out, key=lambda r: (r["artifact"], r["since"]))


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False)
