"""Open promotion requests with what each still needs: the approver's inbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from custodes.governance.gates import status
from custodes.governance.identity import Who
from custodes.governance.roles import Action
from custodes.governance.service import Governance
from custodes.store.models import Artifact, ArtifactVersion, PromotionRequest

__all__ = ["pending_requests"]


def pending_requests(gov: Governance, who: Who) -> list[dict[str, Any]]:
    """Every open request, oldest first, with its evidence and the policy's verdict."""
    actor = gov.act(who, Action.READ)
    with gov.read() as session:
        rows = session.execute(
            select(Artifact.name, ArtifactVersion.digest)
            .join(ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id)
            .join(PromotionRequest, PromotionRequest.version_id == ArtifactVersion.id)
            .where(PromotionRequest.state == "open")
            .order_by(PromotionRequest.id)
        ).all()
    return [status(gov, actor, f"{name}@{digest}").to_json() for name, digest in rows]
