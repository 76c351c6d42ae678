"""Findings about the threat model's own upkeep: acceptances, evidence, reviews, custody.

These are not threats; they are the documentation a threat model promises (an owner,
evidence, a response, a current review) and that auditors ask for first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.system.loader import LoadedSystem
from custodes.system.schema import ModelArtifact, Notebook, Output, Source
from custodes.threatmodel.model import Staleness, ThreatInstance

__all__ = ["upkeep_findings"]

#: A control not looked at for this long is due for review.
CONTROL_REVIEW_DAYS = 365


def _loc(system: LoadedSystem, *path: str | int) -> Location:
    return Location(path=str(system.path), line=system.line_of(tuple(path)))


def upkeep_findings(
    system: LoadedSystem,
    threats: tuple[ThreatInstance, ...],
    stale: Staleness,
    today: date,
) -> Iterator[Finding]:
    """Every documentation gap, each pointing at its line in custodes.yaml."""
    model = system.model
    needed: dict[str, list[ThreatInstance]] = {}
    for t in threats:
        for ref in t.controls:
            needed.setdefault(ref.id, []).append(t)

    for i, c in enumerate(model.controls):
        scope = ", ".join(c.applies_to) if c.applies_to else "the whole system"
        if c.status == "risk_accepted" and c.expires is not None and c.expires < today:
            yield Finding(
                rule_id=RuleId("TM-ACCEPTANCE-LAPSED"),
                category=Category.CONTROL,
                severity=Severity.HIGH,
                message=f"risk acceptance of {c.id} for {scope} lapsed on {c.expires.isoformat()}",
                location=_loc(system, "controls", i),
                element=c.applies_to[0] if c.applies_to else None,
                facts=(
                    f"accepted by {c.approver} for owner {c.owner}",
                    f"expired {(today - c.expires).days} days ago",
                ),
                remediation="implement the control, or have the approver renew the acceptance "
                "with a new expiry",
                threats=tuple(sorted({t.threat_id for t in needed.get(c.id, [])})),
            )
        if c.status == "implemented":
            missing = [
                what
                for what, value in (
                    ("evidence", c.evidence),
                    ("owner", c.owner),
                    ("response", c.response),
                )
                if not value
            ]
            if missing:
                yield Finding(
                    rule_id=RuleId("TM-CONTROL-UNDOCUMENTED"),
                    category=Category.CONTROL,
                    severity=Severity.MEDIUM if "evidence" in missing else Severity.LOW,
                    message=f"{c.id} ({scope}) is marked implemented without " + ", ".join(missing),
                    location=_loc(system, "controls", i),
                    facts=tuple(f"no {m}" for m in missing),
                    remediation="record evidence (file, link or command), an owner, and the "
                    "response: what we do and whom we escalate to when it fails",
                )
            reviewed = c.last_reviewed
            if reviewed is None or today - reviewed > timedelta(days=CONTROL_REVIEW_DAYS):
                yield Finding(
                    rule_id=RuleId("TM-CONTROL-UNREVIEWED"),
                    category=Category.CONTROL,
                    severity=Severity.LOW,
                    message=f"{c.id} ({scope}) has "
                    + (
                        "never been reviewed"
                        if reviewed is None
                        else f"not been reviewed since {reviewed}"
                    ),
                    location=_loc(system, "controls", i),
                    remediation="review the control and its response procedure, then set last_reviewed",
                )
        if c.status == "not_applicable" and c.id in needed:
            users = needed[c.id]
            yield Finding(
                rule_id=RuleId("TM-CONTROL-CONTRADICTED"),
                category=Category.CONTROL,
                severity=Severity.MEDIUM,
                message=f"{c.id} is marked not applicable, but {len(users)} threat(s) call for it",
                location=_loc(system, "controls", i),
                facts=tuple(f"{t.threat_id} on {t.element_id}" for t in users[:5]),
                remediation="implement it, or record a risk acceptance with owner, approver and expiry",
                threats=tuple(sorted({t.threat_id for t in users})),
            )

    for i, src in enumerate(model.sources):
        assert isinstance(src, Source)
        if src.tier == "broker" and not src.chain_of_custody:
            yield Finding(
                rule_id=RuleId("TM-CUSTODY-UNDOCUMENTED"),
                category=Category.CONTROL,
                severity=Severity.HIGH,
                message=f"broker source {src.id!r} has no chain-of-custody documentation",
                location=_loc(system, "sources", i),
                element=src.id,
                facts=(f"custodian: {src.custodian or 'not stated'}",),
                remediation="obtain the broker's chain-of-custody record and reference it in "
                "chain_of_custody",
                threats=("DATAPOISON",),
            )
    for i, nb in enumerate(model.notebooks):
        assert isinstance(nb, Notebook)
        if nb.credentials == "hard_coded":
            yield Finding(
                rule_id=RuleId("TM-HARDCODED-CREDENTIALS"),
                category=Category.CONTROL,
                severity=Severity.CRITICAL if nb.production_data_access else Severity.HIGH,
                message=f"notebook {nb.id!r} keeps credentials in its code",
                location=_loc(system, "notebooks", i),
                element=nb.id,
                facts=("credentials: hard_coded",)
                + (("it reaches production data",) if nb.production_data_access else ()),
                remediation="rotate the keys now, move them to a secret manager, and scan "
                "notebooks and their history for leaks (custodes scan --history)",
                threats=("DEVDATALEAK",),
            )
    for i, m in enumerate(model.models):
        assert isinstance(m, ModelArtifact)
        if m.trained is not None and m.retrain_interval_days is not None:
            due = m.trained + timedelta(days=m.retrain_interval_days)
            if today > due:
                yield Finding(
                    rule_id=RuleId("TM-MODEL-STALE"),
                    category=Category.REVIEW,
                    severity=Severity.MEDIUM,
                    message=f"model {m.id!r} was trained {m.trained.isoformat()} and was due for "
                    f"retraining or revalidation on {due.isoformat()}",
                    location=_loc(system, "models", i),
                    element=m.id,
                    facts=(
                        f"{(today - due).days} days past its {m.retrain_interval_days}-day interval",
                    ),
                    remediation="revalidate the model on current data or retrain it, then update trained",
                    threats=(),
                )
    if model.system.consequence in ("high", "critical"):
        for i, out in enumerate(model.outputs):
            assert isinstance(out, Output)
            if not out.human_review:
                yield Finding(
                    rule_id=RuleId("TM-NO-OVERSIGHT"),
                    category=Category.CONTROL,
                    severity=Severity.MEDIUM,
                    message=f"output {out.id!r} acts on {model.system.consequence}-consequence "
                    "decisions with no human review",
                    location=_loc(system, "outputs", i),
                    element=out.id,
                    remediation="put a person in the loop for decisions about people, or record "
                    "why not (OVERSIGHT)",
                )
    if stale.stale:
        yield Finding(
            rule_id=RuleId("TM-REVIEW-STALE"),
            category=Category.REVIEW,
            severity=Severity.MEDIUM,
            message="the threat model is stale: " + "; ".join(stale.reasons),
            location=_loc(system, "system", "review"),
            facts=stale.reasons,
            remediation="review the model with its owners, then record last_reviewed and the "
            f"fingerprint {stale.fingerprint} under system.review",
        )
