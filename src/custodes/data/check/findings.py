"""Data check results as :class:`~custodes.findings.Finding` objects, for every report.

``assess``, SARIF and the HTML reports speak findings; a poisoning signal is evidence of
the DATAPOISON threat (OWASP AI Exchange), a schema break of an unreviewed change in
the data supply, drift a reason to look before retraining.
"""

from __future__ import annotations

from custodes.data.check.result import DRIFT, ColumnResult, Signal
from custodes.findings import Category, Finding, Location, RuleId, Severity

__all__ = ["to_findings"]


def to_findings(columns: list[ColumnResult], signals: list[Signal], path: str) -> list[Finding]:
    loc = Location(path)
    out: list[Finding] = [
        Finding(
            RuleId(f"DATA-POISON-{s.kind.upper().replace('_', '-')}"),
            Category.DATA,
            Severity.HIGH,
            s.message,
            loc,
            threats=("DATAPOISON",),
            facts=tuple(f"{k}: {v}" for k, v in s.evidence.items()),
            remediation="review the flagged rows (--flagged-rows) before training on "
            "this batch; quarantine the source if they are confirmed",
            properties={"source": s.source, "group": s.group, "z": s.z},
            subject=f"{s.kind}:{s.source}:{s.group}",
        )
        for s in signals
    ]
    for c in columns:
        out.extend(
            Finding(
                RuleId(f"DATA-SCHEMA-{i.kind.upper().replace('_', '-')}"),
                Category.DATA,
                Severity.MEDIUM,
                i.message,
                loc,
                threats=("DATAPOISON",),
                remediation="fix the producer or review and edit the baseline's constraints",
                subject=f"{i.kind}:{c.name}",
            )
            for i in c.issues
        )
        if c.verdict == DRIFT:
            out.append(
                Finding(
                    RuleId("DATA-DRIFT"),
                    Category.DATA,
                    Severity.LOW,
                    f"{c.name} drifted (PSI {c.psi:.2f} beyond sampling noise)",
                    loc,
                    remediation="confirm the shift is expected before retraining; "
                    "rebaseline if it is the new normal",
                    subject=c.name,
                )
            )
    return out
