"""Run every rule over a system model and assemble the threat model."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from custodes.catalog import load_catalog
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.system.graph import SystemGraph
from custodes.system.loader import LoadedSystem
from custodes.threatmodel.checks import upkeep_findings
from custodes.threatmodel.coverage import ControlIndex, status_of
from custodes.threatmodel.diagnostic import diagnose
from custodes.threatmodel.model import RISK_SEVERITY, Risk, ThreatInstance, ThreatModel
from custodes.threatmodel.risk import impact_of, residual, scale_impact
from custodes.threatmodel.rules import RULES
from custodes.threatmodel.rules.base import Context
from custodes.threatmodel.staleness import staleness

__all__ = ["analyze"]


def analyze(
    system: LoadedSystem,
    *,
    today: date | None = None,
    root: Path | None = None,
    provenance: Mapping[str, tuple[bool, str]] | None = None,
) -> ThreatModel:
    """Analyze a loaded system model.

    ``root`` is the project directory whose notebooks, manifests and model files go into
    the staleness fingerprint; by default, the directory holding custodes.yaml.
    ``provenance`` is what verification proved per element (see ``ControlIndex``).
    """
    today = today or date.today()
    root = root if root is not None else system.path.parent
    catalog = load_catalog()
    graph = SystemGraph(system.model)
    ctx = Context(system.model, graph, today)
    controls = ControlIndex(system, catalog, today, provenance)
    sys_def = system.model.system

    threats: dict[str, ThreatInstance] = {}
    for spec in RULES:
        for hit in spec.fn(ctx):
            threat = catalog.threat(hit.threat)
            node = graph.nodes[hit.element]
            refs = tuple(controls.lookup(c, hit.element) for c in hit.controls)
            status, implemented = status_of(refs)
            impact, impact_reasons = impact_of(sys_def, hit.impact, hit.sensitivity)
            inherent = Risk(hit.likelihood, impact, hit.likelihood_reasons, impact_reasons)
            instance = ThreatInstance(
                rule_id=spec.id,
                threat_id=threat.id,
                threat_name=threat.name,
                category=threat.category,
                element_id=hit.element,
                element_kind=node.kind,
                element_label=node.element.label,
                facts=hit.facts,
                clears=hit.clears,
                controls=refs,
                status=status,
                inherent=inherent,
                residual=residual(inherent, status, implemented, len(refs)),
                atlas=threat.atlas,
                url=threat.url,
                audiences=hit.audiences,
                line=system.line_of((node.section, node.index)),
            )
            # Two rules may raise the same threat on the same element; keep the worse.
            previous = threats.get(instance.key)
            if previous is None or instance.inherent.score > previous.inherent.score:
                threats[instance.key] = instance

    ordered = tuple(threats.values())
    stale = staleness(system, today, root)
    findings = [_threat_finding(system, t) for t in ordered if t.status != "mitigated"]
    findings.extend(upkeep_findings(system, ordered, stale, today))
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.element or ""))
    scale = scale_impact(sys_def)
    return ThreatModel(
        system=system,
        graph=graph,
        threats=ordered,
        findings=tuple(findings),
        diagnostic=diagnose(ctx, controls, scale),
        staleness=stale,
        scale=scale,
        analyzed_on=today,
        controls_declared=len(system.model.controls),
        elements=len(graph.nodes),
    )


def _threat_finding(system: LoadedSystem, t: ThreatInstance) -> Finding:
    missing = [r.id for r in t.controls if r.status != "implemented"]
    severity = RISK_SEVERITY[t.residual.level]
    if t.status == "accepted":
        severity = Severity.LOW
    return Finding(
        rule_id=RuleId(t.rule_id),
        category=Category.THREAT,
        severity=severity,
        message=f"{t.threat_name} ({t.threat_id}) on {t.element_kind} {t.element_id!r} is "
        f"{t.status}: {t.residual.arithmetic}",
        location=Location(path=str(system.path), line=t.line),
        threats=(t.threat_id,),
        element=t.element_id,
        facts=t.facts,
        remediation=t.clears + (f"; missing: {', '.join(missing)}" if missing else ""),
        atlas=t.atlas,
        properties={
            "status": t.status,
            "risk": t.residual.level,
            "score": t.residual.score,
            "likelihood": t.residual.likelihood,
            "impact": t.residual.impact,
            "inherent_score": t.inherent.score,
        },
    )
