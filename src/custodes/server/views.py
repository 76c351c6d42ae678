"""Read models the API and the dashboard share, so both show the same facts."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from custodes.governance.auditlog import rfc3339
from custodes.governance.identity import Who
from custodes.governance.roles import Action
from custodes.governance.service import Governance
from custodes.store.models import LogEntry

__all__ = ["audit_page"]


def audit_page(
    gov: Governance, who: Who, before: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Audit entries newest first, ``limit`` of them below ``before`` (a seq)."""
    gov.act(who, Action.READ)
    with gov.read() as session:
        query = select(LogEntry).order_by(LogEntry.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(LogEntry.seq < before)
        rows = session.execute(query).scalars().all()
    out = []
    for e in rows:
        try:
            data = json.loads(e.payload).get("data", {})
        except (ValueError, AttributeError):
            data = {"unreadable": True}
        data = {k: v for k, v in data.items() if k not in ("public_key_pem", "content")}
        out.append(
            {"seq": e.seq, "at": rfc3339(e.at), "kind": e.kind, "actor": e.actor, "data": data}
        )
    return out
