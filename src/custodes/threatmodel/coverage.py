"""Which declared control covers which element, and what that makes a threat's status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from custodes.catalog import Catalog
from custodes.system.loader import LoadedSystem
from custodes.system.schema import Control, Endpoint
from custodes.threatmodel.model import ControlRef, ThreatStatus

__all__ = ["PROVENANCE_CONTROLS", "ControlIndex", "status_of"]

#: Controls whose implementation custodes can check itself (manifests re-hashed,
#: signatures and attestations verified): for these, evidence replaces declarations.
PROVENANCE_CONTROLS = frozenset({"SUPPLYCHAINMANAGE"})


class ControlIndex:
    """Declared controls looked up by (control id, element id).

    An element-specific declaration wins over a system-wide one, so a team can say
    "rate limiting is implemented everywhere except on this partner endpoint".
    Some element attributes are controls in themselves (an endpoint's ``rate_limit``,
    ``authentication: true``); they count as implemented, with the attribute as evidence,
    when no explicit declaration says otherwise.
    """

    def __init__(
        self,
        system: LoadedSystem,
        catalog: Catalog,
        today: date,
        provenance: Mapping[str, tuple[bool, str]] | None = None,
    ) -> None:
        """``provenance`` maps element ids to (verified, what was checked); when given, a
        provenance control counts as implemented on an element only where verification
        passed, whatever custodes.yaml declares."""
        self._provenance = provenance
        self._system = system
        self._catalog = catalog
        self._today = today
        self._specific: dict[tuple[str, str], tuple[int, Control]] = {}
        self._wide: dict[str, tuple[int, Control]] = {}
        for i, control in enumerate(system.model.controls):
            cid = catalog.resolve_control_id(control.id) or control.id
            if control.applies_to:
                for element in control.applies_to:
                    self._specific.setdefault((cid, element), (i, control))
            else:
                self._wide.setdefault(cid, (i, control))
        self._implied: dict[tuple[str, str], str] = defaultdict(str)
        for j, ep in enumerate(system.model.endpoints):
            if ep.rate_limit:
                self._implied[("RATELIMIT", ep.id)] = f"endpoints[{j}].rate_limit: {ep.rate_limit}"
            if isinstance(ep, Endpoint) and ep.authentication is True:
                self._implied[("MODELACCESSCONTROL", ep.id)] = f"endpoints[{j}].authentication"

    def lookup(self, control_id: str, element_id: str) -> ControlRef:
        """What the model says about one control on one element, corrected by evidence."""
        ref = self._declared(control_id, element_id)
        if self._provenance is None or control_id not in PROVENANCE_CONTROLS:
            return ref
        verified, detail = self._provenance.get(element_id, (False, ""))
        if verified:
            return replace(ref, status="implemented", evidence=f"verified by custodes: {detail}")
        if ref.status != "implemented":
            return ref
        why = detail or "nothing to verify (no manifest, signature or attestation)"
        return replace(ref, status="missing", evidence=f"declared implemented, not verified: {why}")

    def _declared(self, control_id: str, element_id: str) -> ControlRef:
        name = self._catalog.control(control_id).name
        found = self._specific.get((control_id, element_id)) or self._wide.get(control_id)
        if found is None:
            implied = self._implied.get((control_id, element_id))
            if implied:
                return ControlRef(control_id, name, "implemented", evidence=implied)
            return ControlRef(control_id, name, "missing")
        index, control = found
        lapsed = (
            control.status == "risk_accepted"
            and control.expires is not None
            and control.expires < self._today
        )
        return ControlRef(
            id=control_id,
            name=name,
            status=control.status,
            evidence=control.evidence,
            owner=control.owner,
            line=self._system.line_of(("controls", index)),
            lapsed=lapsed,
        )


def status_of(refs: tuple[ControlRef, ...]) -> tuple[ThreatStatus, int]:
    """Threat status from its required controls, and how many are implemented.

    mitigated: every required control implemented. accepted: the rest covered by current
    risk acceptances. partial: at least one implemented or accepted. unmitigated: none.
    A lapsed acceptance counts as nothing.
    """
    implemented = sum(1 for r in refs if r.status == "implemented")
    accepted = sum(1 for r in refs if r.status == "risk_accepted" and not r.lapsed)
    if refs and implemented == len(refs):
        return "mitigated", implemented
    if refs and implemented + accepted == len(refs):
        return "accepted", implemented
    if implemented or accepted:
        return "partial", implemented
    return "unmitigated", implemented
