"""The diagnostic loop for a whole project: run every analyzer that exists, one result.

Today: the threat model (custodes.yaml) and the static scanners. Later capabilities
(data checks, provenance, gates, monitors) add their results here; the report renders
whatever is present. What a scanner proves overrides what the model claims: a key found
in a notebook is a credential-management gap even if custodes.yaml says "secret manager".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from custodes.errors import CustodesError, InputError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.system.loader import LoadedSystem, load_system
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


@dataclass(frozen=True)
class ManifestOutcome:
    """One provenance manifest of the system model, re-checked against the data on disk."""

    element: str
    """Id of the source or model the manifest describes."""
    kind: str
    """source | model"""
    tier: str | None
    """The source's tier; None for a model."""
    manifest: str | None
    """The manifest path relative to the project; None when none is declared."""
    status: str
    """ok | mismatch | missing | unreadable | not_present (manifest read, data not here)."""
    data: str | None = None
    """The data the manifest describes, relative to the project, when it is here."""
    changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    root_consistent: bool = True
    error: str | None = None
    differing: tuple[str, ...] = ()
    """Every changed, added, removed or refused file, relative to the project."""

    @property
    def checked(self) -> bool:
        """True when a manifest file was there to read (whatever it said)."""
        return self.status in ("ok", "mismatch", "unreadable", "not_present")


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
                str(batch), Baseline.load(root / dc.baseline), tiers=dc.tiers or None
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


_UNTRUSTED_TIERS = ("broker", "user_generated")
_NAMED = 10


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _described(manifest: Path, doc: dict[str, object]) -> Path | None:
    """The file or folder a manifest describes, by the naming convention, when it is here."""
    from custodes.provenance.manifest import DIR_MANIFEST

    if manifest.name == DIR_MANIFEST:
        candidate = manifest.parent
    elif manifest.name.endswith(".manifest.json"):
        candidate = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
    else:
        subject = doc.get("subject")
        name = subject.get("name") if isinstance(subject, dict) else None
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
            return None
        candidate = manifest.parent / name
    return candidate if candidate.exists() or candidate.is_symlink() else None


def _verify(
    element: str,
    kind: str,
    tier: str | None,
    manifest: Path,
    fallback: Path | None,
    root: Path,
) -> ManifestOutcome:
    """Load one manifest and re-hash the data it describes; every problem is an outcome."""
    from custodes.provenance.manifest import load_manifest, verify_tree

    declared = _rel(manifest, root)
    try:
        doc = load_manifest(manifest)
        data = _described(manifest, doc)
        if data is None and fallback is not None and (fallback.exists() or fallback.is_symlink()):
            data = fallback
        if data is None:
            return ManifestOutcome(element, kind, tier, declared, "not_present")
        events = manifest.with_name(manifest.name + ".events.jsonl")
        result = verify_tree(data, doc, exclude=[manifest, events])
    except CustodesError as exc:
        return ManifestOutcome(element, kind, tier, declared, "unreadable", error=exc.diagnostics())
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return ManifestOutcome(element, kind, tier, declared, "unreadable", error=str(exc))
    tree = data if data.is_dir() else data.parent
    differing = result.changed + result.added + result.removed + result.refused
    return ManifestOutcome(
        element,
        kind,
        tier,
        declared,
        "ok" if result.ok else "mismatch",
        data=_rel(data, root),
        changed=result.changed,
        added=result.added,
        removed=result.removed,
        refused=result.refused,
        root_consistent=result.root_consistent,
        differing=tuple(_rel(tree / p, root) for p in differing),
    )


def run_manifest_checks(
    system: LoadedSystem, root: Path
) -> tuple[list[ManifestOutcome], list[Finding]]:
    """Re-verify every provenance manifest custodes.yaml declares against the data here.

    A source's ``manifest`` is relative to custodes.yaml; a model's manifest is looked for
    at the default place beside its ``path``. A broker or user-generated source without a
    manifest, a declared manifest that is not there, one that cannot be read and data that
    no longer matches are all findings, never a crash.
    """
    from custodes.provenance.manifest import default_manifest_path

    model = system.model
    base = system.path.parent
    outcomes: list[ManifestOutcome] = []
    findings: list[Finding] = []
    for i, src in enumerate(model.sources):
        loc = Location(
            path=str(system.path),
            line=system.line_of(("sources", i, "manifest")) or system.line_of(("sources", i, "id")),
        )
        if src.manifest is None:
            if src.tier in _UNTRUSTED_TIERS:
                outcomes.append(ManifestOutcome(src.id, "source", src.tier, None, "missing"))
                findings.append(
                    Finding(
                        rule_id=RuleId("PROV-MANIFEST-MISSING"),
                        category=Category.DATA,
                        severity=Severity.MEDIUM,
                        message=f"{src.tier} source {src.label!r} declares no provenance "
                        "manifest: nothing records what its data was when it arrived",
                        location=loc,
                        threats=("DATAPOISON",),
                        element=src.id,
                        facts=(f"tier: {src.tier}", "manifest: not declared"),
                        remediation="record the data with custodes provenance record and set "
                        "manifest: in custodes.yaml",
                        subject=src.id,
                    )
                )
            continue
        manifest = base / src.manifest
        if not manifest.is_file():
            outcomes.append(
                ManifestOutcome(src.id, "source", src.tier, _rel(manifest, root), "missing")
            )
            findings.append(
                Finding(
                    rule_id=RuleId("PROV-MANIFEST-MISSING"),
                    category=Category.DATA,
                    severity=Severity.MEDIUM,
                    message=f"source {src.label!r} declares manifest {src.manifest!r}, "
                    "which does not exist",
                    location=loc,
                    threats=("DATAPOISON",),
                    element=src.id,
                    facts=(f"tier: {src.tier}", f"manifest: {src.manifest} (not found)"),
                    remediation="record the data with custodes provenance record, or fix the "
                    "manifest path (relative to custodes.yaml)",
                    subject=src.id,
                )
            )
            continue
        fallback = base / src.path if src.path else None
        outcomes.append(_verify(src.id, "source", src.tier, manifest, fallback, root))
    for m in model.models:
        if not m.path:
            continue
        path = base / m.path
        try:
            manifest = default_manifest_path(path)
            present = manifest.is_file()
        except OSError:
            present = False
        if present:
            outcomes.append(_verify(m.id, "model", None, manifest, path, root))
    for o in outcomes:
        finding = _manifest_finding(o, root)
        if finding is not None:
            findings.append(finding)
    return outcomes, findings


def _names(what: str, paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:_NAMED])
    more = f" and {len(paths) - _NAMED} more" if len(paths) > _NAMED else ""
    return f"{what} {shown}{more}"


def _manifest_finding(o: ManifestOutcome, root: Path) -> Finding | None:
    threat = "SUPPLYMODELPOISON" if o.kind == "model" else "DATAPOISON"
    category = Category.ARTIFACT if o.kind == "model" else Category.DATA
    manifest = str(root / o.manifest) if o.manifest else None
    if o.status == "unreadable":
        return Finding(
            rule_id=RuleId("PROV-MANIFEST-UNREADABLE"),
            category=category,
            severity=Severity.MEDIUM,
            message=f"provenance manifest of {o.kind} {o.element!r} cannot be used: {o.error}",
            location=Location(path=manifest) if manifest else None,
            threats=(threat,),
            element=o.element,
            facts=(f"manifest: {o.manifest}",),
            remediation="record the data again with custodes provenance record",
            subject=o.element,
        )
    if o.status != "mismatch":
        return None
    parts = [
        _names(what, paths)
        for what, paths in (
            ("changed", o.changed),
            ("added", o.added),
            ("removed", o.removed),
            ("refused (symlink or special file)", o.refused),
        )
        if paths
    ]
    if not o.root_consistent:
        parts.append("the manifest's file list no longer hashes to its Merkle root")
    return Finding(
        rule_id=RuleId("PROV-MANIFEST-MISMATCH"),
        category=category,
        severity=Severity.HIGH,
        message=f"{o.kind} {o.element!r} is not what its manifest recorded: {'; '.join(parts)}",
        location=Location(path=str(root / o.data)) if o.data else None,
        threats=(threat,),
        element=o.element,
        facts=(f"manifest: {o.manifest}", f"data: {o.data}", *parts),
        remediation="find out who changed the data and why; if the change is legitimate, "
        "record a new manifest with custodes provenance record",
        subject=o.element,
    )


def manifest_gaps(outcomes: Sequence[ManifestOutcome]) -> dict[int, list[Gap]]:
    """Diagnostic-loop gaps the manifests prove: data that changed is Q1 (dependency map),
    an untrusted source with no manifest to check is Q2 (data monitoring)."""
    gaps: dict[int, list[Gap]] = {1: [], 2: []}
    for o in outcomes:
        if o.status == "mismatch":
            detail = (
                f"{_count(len(o.differing), 'file')} differ"
                if o.differing
                else "its file list no longer hashes to the recorded root"
            )
            elements = o.differing or ((o.data,) if o.data else ())
            gaps[1].append(
                Gap(
                    "dependency map",
                    f"{o.kind} {o.element!r} is not what its provenance manifest recorded "
                    f"({detail})",
                    elements,
                )
            )
        elif o.status == "missing" and o.tier in _UNTRUSTED_TIERS:
            what = (
                f"declares manifest {o.manifest!r}, which does not exist"
                if o.manifest
                else "has no provenance manifest"
            )
            gaps[2].append(
                Gap(
                    "data monitoring",
                    f"{o.tier} source {o.element!r} {what}: its data cannot be checked "
                    "against what arrived",
                    (o.element,),
                )
            )
    return gaps


def assess(
    project: Path,
    *,
    today: date | None = None,
    scan: bool = True,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> Assessment:
    """Run every available analyzer on a project directory."""
    today = today or date.today()
    if not project.exists():
        raise InputError("no such file or directory", path=project)
    root = project if project.is_dir() else project.parent
    analyzers: list[str] = []
    skipped: list[str] = []
    findings: list[Finding] = []
    tm: ThreatModel | None = None
    system_file = root / SYSTEM_FILE if project.is_dir() else project
    if system_file.exists():
        tm = analyze(load_system(system_file), today=today, root=root)
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
    manifests: list[ManifestOutcome] = []
    if tm is not None:
        manifests, manifest_findings = run_manifest_checks(tm.system, root)
        if any(o.checked for o in manifests):
            analyzers.append("provenance")
        findings.extend(manifest_findings)
        tm = replace(tm, diagnostic=with_evidence(tm.diagnostic, manifest_gaps(manifests)))
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
    )
