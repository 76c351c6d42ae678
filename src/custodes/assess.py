"""The diagnostic loop for a whole project: run every analyzer that exists, one result.

The threat model (custodes.yaml), the static scanners, data checks, provenance, the
monitors in the project's store (is each served model watched, and alive?) and the
governance gates (where each registered artifact stands, and does the audit log verify?); the report
renders whatever is present. What a scanner proves overrides what the model claims: a key found
in a notebook is a credential-management gap even if custodes.yaml says "secret manager".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from custodes.errors import CustodesError, InputError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.governance.assess import GovernanceStatus, governance_gaps, governance_status
from custodes.provenance.project import (
    ManifestOutcome,
    ModelOutcome,
    manifest_gaps,
    model_gaps,
    provenance_evidence,
    run_manifest_checks,
    run_model_checks,
)
from custodes.system.loader import load_system
from custodes.system.schema import SystemModel
from custodes.threatmodel import ThreatModel, analyze
from custodes.threatmodel.diagnostic import with_evidence
from custodes.threatmodel.model import Gap

__all__ = [
    "SYSTEM_FILE",
    "Assessment",
    "DataCheckOutcome",
    "ManifestOutcome",
    "assess",
    "data_gaps",
    "find_system_file",
    "manifest_gaps",
    "run_data_checks",
    "run_manifest_checks",
    "scan_gaps",
]

SYSTEM_FILE = "custodes.yaml"


@dataclass(frozen=True)
class Assessment:
    """Everything custodes found about one project."""

    project: Path
    threat_model: ThreatModel | None
    findings: tuple[Finding, ...]
    analyzers: tuple[str, ...]
    """Names of the analyzers that ran, in order."""
    skipped: tuple[str, ...] = field(default_factory=tuple)
    """Analyzers that did not run, each with the reason."""
    assessed_on: date = field(default_factory=date.today)
    scanned_files: int = 0
    data_checks: tuple[DataCheckOutcome, ...] = ()
    manifests: tuple[ManifestOutcome, ...] = ()
    models: tuple[ModelOutcome, ...] = ()
    governance: GovernanceStatus | None = None
    """Each registered artifact at the gates, when the project has a governance store."""


@dataclass(frozen=True)
class DataCheckOutcome:
    """One declared data check: its verdict, or why it could not run."""

    id: str
    batch: str
    verdict: str | None
    """ok | drift | suspected_poisoning | schema_violation; None when it could not run."""
    reasons: tuple[str, ...] = ()
    flagged_rows: int = 0
    suspect_sources: tuple[str, ...] = ()
    error: str | None = None


def find_system_file(path: Path) -> Path:
    """The custodes.yaml of a project given as a directory or as the file itself."""
    if path.is_dir():
        candidate = path / SYSTEM_FILE
        if not candidate.exists():
            raise InputError(
                f"no {SYSTEM_FILE} here",
                path=path,
                hint="write one with: custodes init " + str(path),
            )
        return candidate
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    return path


def _files(findings: Sequence[Finding], root: Path | None) -> tuple[str, ...]:
    paths = set()
    for f in findings:
        if f.location is None:
            continue
        path = Path(f.location.path)
        if root is not None and path.is_relative_to(root):
            path = path.relative_to(root)
        paths.add(path.as_posix())
    return tuple(sorted(paths))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def scan_gaps(findings: Sequence[Finding], root: Path | None = None) -> dict[int, list[Gap]]:
    """Diagnostic-loop gaps that scan findings prove, by question number."""
    serious = [f for f in findings if f.severity.at_least(Severity.HIGH)]
    secrets = [f for f in serious if f.category is Category.SECRET]
    artifacts = [f for f in serious if f.category is Category.ARTIFACT]
    unsafe = [f for f in serious if f.category is Category.DEPENDENCY]
    notebooks = [
        f
        for f in findings
        if f.category is Category.NOTEBOOK and f.severity.at_least(Severity.MEDIUM)
    ]
    gaps: dict[int, list[Gap]] = {1: [], 2: [], 3: []}
    if secrets:
        gaps[1].append(
            Gap(
                "credential management",
                f"custodes scan found {_count(len(secrets), 'hard-coded credential')}",
                _files(secrets, root),
            )
        )
    if artifacts or unsafe:
        parts = []
        if artifacts:
            parts.append(
                _count(len(artifacts), "model file finding") + " (files that run code when loaded)"
            )
        if unsafe:
            parts.append(_count(len(unsafe), "unsafe loading pattern") + " in code")
        gaps[1].append(
            Gap(
                "dependency map",
                "custodes scan found " + " and ".join(parts),
                _files(artifacts + unsafe, root),
            )
        )
    if notebooks:
        gaps[1].append(
            Gap(
                "development environment",
                f"custodes scan found {_count(len(notebooks), 'notebook governance finding')}",
                _files(notebooks, root),
            )
        )
    return gaps


def run_data_checks(
    system: SystemModel, root: Path
) -> tuple[list[DataCheckOutcome], list[Finding]]:
    """Run every data check custodes.yaml declares; a check that cannot run says why."""
    from custodes.data import Baseline
    from custodes.data.check import check_batch

    outcomes: list[DataCheckOutcome] = []
    findings: list[Finding] = []
    for dc in system.data_checks:
        batch = root / dc.batch
        try:
            result = check_batch(
                str(batch),
                Baseline.load(root / dc.baseline),
                tiers=dc.tiers or None,
                label_issues=True,  # the report explains a verdict; seconds matter less here
            )
        except CustodesError as exc:
            outcomes.append(DataCheckOutcome(dc.id, dc.batch, None, error=exc.diagnostics()))
            findings.append(
                Finding(
                    rule_id=RuleId("DATA-CHECK-NOT-RUN"),
                    category=Category.DATA,
                    severity=Severity.MEDIUM,
                    message=f"data check {dc.id!r} could not run: {exc.diagnostics()}",
                    location=Location(path=str(batch)),
                    remediation="fix the baseline or batch path in data_checks, or rebuild the "
                    "baseline with custodes data baseline",
                    subject=dc.id,
                )
            )
            continue
        suspects = tuple(
            f"{s.source} ({s.tier})" if s.tier and s.tier != s.source else s.source
            for s in result.sources
            if s.verdict not in ("ok", "drift")
        )
        outcomes.append(
            DataCheckOutcome(
                dc.id,
                dc.batch,
                result.verdict,
                result.reasons,
                len(result.flagged),
                suspects,
            )
        )
        findings.extend(result.findings)
    return outcomes, findings


def data_gaps(outcomes: Sequence[DataCheckOutcome]) -> dict[int, list[Gap]]:
    """Diagnostic-loop gaps the data checks prove: poisoning or a broken schema is Q2."""
    gaps: dict[int, list[Gap]] = {2: []}
    for o in outcomes:
        if o.verdict == "suspected_poisoning":
            where = f" from {', '.join(o.suspect_sources)}" if o.suspect_sources else ""
            gaps[2].append(
                Gap(
                    "data monitoring",
                    f"data check {o.id!r}: suspected poisoning{where}; "
                    f"{o.flagged_rows:,} rows flagged for review before training",
                    (o.batch,),
                )
            )
        elif o.verdict == "schema_violation":
            gaps[2].append(
                Gap(
                    "data monitoring",
                    f"data check {o.id!r}: the batch breaks the schema",
                    (o.batch,),
                )
            )
        elif o.verdict is None:
            gaps[2].append(
                Gap("data monitoring", f"data check {o.id!r} could not run: {o.error}", (o.batch,))
            )
    return gaps


def _policy_limit(root: Path) -> tuple[float | None, Finding | None]:
    """The user-generated share limit of the project's custodes-policy.yaml, if any; a
    policy that does not load is a finding (the gates deny everything until it does)."""
    from custodes.governance.policy import DEFAULT_NAME, load_policy

    path = root / DEFAULT_NAME
    if not path.is_file():
        return None, None
    try:
        policy = load_policy(path)
    except CustodesError as exc:
        return None, Finding(
            rule_id=RuleId("GOV-POLICY-INVALID"),
            category=Category.REVIEW,
            severity=Severity.HIGH,
            message=f"the promotion policy cannot be used, so every gate refuses: {exc.message}",
            location=Location(path=exc.path or str(path), line=exc.line),
            remediation="fix custodes-policy.yaml (custodes gate status shows the same error)",
            subject=DEFAULT_NAME,
        )
    return policy.model.limits.max_user_generated_share, None


def assess(
    project: Path,
    *,
    today: date | None = None,
    scan: bool = True,
    progress: Callable[[int, int, int, int], None] | None = None,
    max_user_share: float | None = None,
) -> Assessment:
    """Run every available analyzer on a project directory.

    ``max_user_share`` is the policy's limit on the share of a model's training rows that
    may come from user-generated sources.
    """
    today = today or date.today()
    if not project.exists():
        raise InputError("no such file or directory", path=project)
    root = project if project.is_dir() else project.parent
    analyzers: list[str] = []
    skipped: list[str] = []
    findings: list[Finding] = []
    tm: ThreatModel | None = None
    system_file = root / SYSTEM_FILE if project.is_dir() else project
    manifests: list[ManifestOutcome] = []
    models: list[ModelOutcome] = []
    provenance_findings: list[Finding] = []
    if system_file.exists():
        system = load_system(system_file)
        if max_user_share is None:
            max_user_share, policy_finding = _policy_limit(root)
            if policy_finding is not None:
                provenance_findings.append(policy_finding)
        # Provenance first: the threat model counts a provenance control as implemented
        # only where this verification passed.
        manifests, manifest_findings = run_manifest_checks(system, root)
        models, model_problems = run_model_checks(system, max_user_share)
        provenance_findings += manifest_findings + model_problems
        tm = analyze(
            system, today=today, root=root, provenance=provenance_evidence(manifests, models)
        )
        analyzers.append("threat-model")
    else:
        skipped.append(
            f"threat-model: no {SYSTEM_FILE} in {root} (write one with: custodes init {root})"
        )
    scanned = 0
    if scan:
        from custodes.scan import run_scan

        result = run_scan([root], progress=progress)
        scanned = result.files
        analyzers.append("scan")
        skipped.extend(f"scanner {s}" for s in result.skipped_scanners)
        findings.extend(result.findings)
        if tm is not None:
            tm = replace(
                tm, diagnostic=with_evidence(tm.diagnostic, scan_gaps(result.findings, root))
            )
    outcomes: list[DataCheckOutcome] = []
    if tm is not None and tm.system.model.data_checks:
        outcomes, data_findings = run_data_checks(tm.system.model, root)
        analyzers.append("data-check")
        findings.extend(data_findings)
        tm = replace(tm, diagnostic=with_evidence(tm.diagnostic, data_gaps(outcomes)))
    if tm is not None:
        if any(o.checked for o in manifests) or any(o.method for o in models):
            analyzers.append("provenance")
        findings.extend(provenance_findings)
        gaps = manifest_gaps(manifests)
        gaps[1] = gaps.get(1, []) + model_gaps(models)[1]
        tm = replace(tm, diagnostic=with_evidence(tm.diagnostic, gaps))
    if tm is not None and tm.system.model.endpoints:
        from custodes.monitor.assess import STORE_FILE, monitor_evidence

        monitor_findings, monitor_gaps = monitor_evidence(tm.system.model, root)
        if (root / STORE_FILE).is_file():
            analyzers.append("monitor")
        findings.extend(monitor_findings)
        tm = replace(tm, diagnostic=with_evidence(tm.diagnostic, monitor_gaps))
    gov = governance_status(root)
    if gov is not None:
        analyzers.append("governance")
        gov_findings, gov_gaps = governance_gaps(gov)
        findings.extend(gov_findings)
        if tm is not None:
            tm = replace(tm, diagnostic=with_evidence(tm.diagnostic, gov_gaps))
    if tm is not None:
        findings = list(tm.findings) + findings
    return Assessment(
        project=root,
        threat_model=tm,
        findings=tuple(findings),
        analyzers=tuple(analyzers),
        skipped=tuple(skipped),
        assessed_on=today,
        scanned_files=scanned,
        data_checks=tuple(outcomes),
        manifests=tuple(manifests),
        models=tuple(models),
        governance=gov,
    )
