"""JSON documents of the CLI contract (DESIGN.md): stable keys, plain types.

These dictionaries are what scripts and CI parse, so their keys change only with a
version bump of the document (``schema_version``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from custodes import __version__
from custodes.assess import Assessment
from custodes.findings import Finding, count_by_severity
from custodes.scan.engine import ScanResult
from custodes.threatmodel.model import Question, Risk, ThreatInstance, ThreatModel

__all__ = [
    "assessment_document",
    "finding_dict",
    "findings_document",
    "scan_document",
    "threat_model_document",
]

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as the JSON contract spells it."""
    loc = f.location
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "category": f.category.value,
        "severity": f.severity.value,
        "path": loc.path if loc else None,
        "line": loc.line if loc else None,
        "message": f.message,
        "threats": list(f.threats),
        "atlas": list(f.atlas),
        "element": f.element,
        "facts": list(f.facts),
        "remediation": f.remediation,
        "fingerprint": f.fingerprint,
    }
    if loc is not None and loc.cell is not None:
        out.update(cell=loc.cell, cell_line=loc.cell_line, in_output=loc.in_output)
    if f.properties:
        out["properties"] = dict(f.properties)
    return out


def findings_document(findings: Sequence[Finding]) -> dict[str, Any]:
    """``{"findings": [...], "summary": {...}}`` for any findings command."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "custodes", "version": __version__},
        "findings": [finding_dict(f) for f in findings],
        "summary": {"total": len(findings), "by_severity": count_by_severity(findings)},
    }


def scan_document(result: ScanResult) -> dict[str, Any]:
    """``custodes scan --format json``: the findings contract plus what the scan covered."""
    doc = findings_document(result.findings)
    doc["summary"].update(
        files=result.files,
        bytes=result.bytes,
        scanners=list(result.scanners),
        skipped_scanners=list(result.skipped_scanners),
        silenced=result.silenced,
        baselined=result.baselined,
    )
    return doc


def _risk(r: Risk) -> dict[str, Any]:
    return {
        "level": r.level,
        "score": r.score,
        "likelihood": r.likelihood,
        "impact": r.impact,
        "arithmetic": r.arithmetic,
        "likelihood_reasons": list(r.likelihood_reasons),
        "impact_reasons": list(r.impact_reasons),
    }


def _threat(t: ThreatInstance) -> dict[str, Any]:
    return {
        "id": t.threat_id,
        "name": t.threat_name,
        "category": t.category,
        "element": t.element_id,
        "element_kind": t.element_kind,
        "status": t.status,
        "risk": _risk(t.residual),
        "inherent_risk": _risk(t.inherent),
        "facts": list(t.facts),
        "clears": t.clears,
        "controls": [
            {
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "evidence": c.evidence,
                "owner": c.owner,
                "lapsed": c.lapsed,
            }
            for c in t.controls
        ],
        "atlas": list(t.atlas),
        "url": t.url,
        "rule_id": t.rule_id,
        "line": t.line,
        "audiences": list(t.audiences),
    }


def _question(q: Question) -> dict[str, Any]:
    return {
        "number": q.number,
        "question": q.title,
        "answer": q.answer,
        "passed": list(q.passed),
        "gaps": [
            {"check": g.check, "detail": g.detail, "elements": list(g.elements)} for g in q.gaps
        ],
        "back_to": q.back_to,
    }


def threat_model_document(tm: ThreatModel) -> dict[str, Any]:
    """The whole threat model: threats with status and risk, loop, staleness, findings."""
    system = tm.system.model.system
    statuses = {
        s: len(tm.threats_by_status(s)) for s in ("unmitigated", "partial", "accepted", "mitigated")
    }
    st = tm.staleness
    sc = tm.scale
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "custodes", "version": __version__},
        "analyzed_on": tm.analyzed_on.isoformat(),
        "system": {
            "name": system.name,
            "owner": system.owner,
            "purpose": system.purpose,
            "consequence": system.consequence,
            "file": str(tm.system.path),
            "elements": tm.elements,
            "controls_declared": tm.controls_declared,
        },
        "scale": {
            "population": sc.population,
            "population_label": sc.population_label,
            "accuracy": sc.accuracy,
            "wrong": sc.wrong,
            "decisions_per_day": sc.decisions_per_day,
            "wrong_per_day": sc.wrong_per_day,
            "sentence": sc.sentence,
        },
        "threats": [_threat(t) for t in tm.ranked()],
        "diagnostic": [_question(q) for q in tm.diagnostic.questions],
        "staleness": {
            "stale": st.stale,
            "reasons": list(st.reasons),
            "last_reviewed": st.last_reviewed.isoformat() if st.last_reviewed else None,
            "due": st.due.isoformat() if st.due else None,
            "fingerprint": st.fingerprint,
            "recorded_fingerprint": st.recorded_fingerprint,
            "artifacts": st.artifacts,
        },
        "findings": [finding_dict(f) for f in tm.findings],
        "summary": {
            "threats": len(tm.threats),
            "by_status": statuses,
            "findings": len(tm.findings),
            "by_severity": count_by_severity(tm.findings),
        },
    }


def assessment_document(a: Assessment) -> dict[str, Any]:
    """An assessment: what ran, every finding, and the threat model when there is one."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "custodes", "version": __version__},
        "project": str(a.project),
        "assessed_on": a.assessed_on.isoformat(),
        "analyzers": list(a.analyzers),
        "skipped": list(a.skipped),
        "findings": [finding_dict(f) for f in a.findings],
        "summary": {"total": len(a.findings), "by_severity": count_by_severity(a.findings)},
    }
    if a.threat_model is not None:
        doc["threat_model"] = threat_model_document(a.threat_model)
    if a.governance is not None:
        doc["governance"] = a.governance.to_json()
    return doc
