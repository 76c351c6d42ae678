"""Provenance evidence for a project: manifests re-hashed, model signatures and training
attestations verified, the user-generated share of a model's rows measured.

``assess`` runs these so that what custodes.yaml declares about custody is checked against
the files: a manifest that no longer matches its data, a model whose signature does not
verify, a model nobody signed. The outcomes also feed the threat model, which counts a
provenance control as implemented only where verification passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custodes.errors import CustodesError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.system.loader import LoadedSystem
from custodes.system.schema import Source
from custodes.threatmodel.model import Gap

__all__ = [
    "ManifestOutcome",
    "ModelOutcome",
    "check_model",
    "manifest_gaps",
    "model_findings",
    "model_gaps",
    "provenance_evidence",
    "run_manifest_checks",
    "run_model_checks",
]


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


_UNTRUSTED_TIERS = ("broker", "user_generated")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


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
                    _manifest_missing(
                        src,
                        loc,
                        f"{src.tier} source {src.label!r} declares no provenance "
                        "manifest: nothing records what its data was when it arrived",
                        "manifest: not declared",
                        "record the data with custodes provenance record and set "
                        "manifest: in custodes.yaml",
                    )
                )
            continue
        manifest = base / src.manifest
        if not manifest.is_file():
            outcomes.append(
                ManifestOutcome(src.id, "source", src.tier, _rel(manifest, root), "missing")
            )
            findings.append(
                _manifest_missing(
                    src,
                    loc,
                    f"source {src.label!r} declares manifest {src.manifest!r}, which does not exist",
                    f"manifest: {src.manifest} (not found)",
                    "record the data with custodes provenance record, or fix the "
                    "manifest path (relative to custodes.yaml)",
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


def _manifest_missing(
    src: Source, loc: Location, message: str, manifest_fact: str, remediation: str
) -> Finding:
    """PROV-MANIFEST-MISSING for a source whose data nothing records."""
    return Finding(
        rule_id=RuleId("PROV-MANIFEST-MISSING"),
        category=Category.DATA,
        severity=Severity.MEDIUM,
        message=message,
        location=loc,
        threats=("DATAPOISON",),
        element=src.id,
        facts=(f"tier: {src.tier}", manifest_fact),
        remediation=remediation,
        subject=src.id,
    )


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


@dataclass(frozen=True)
class ModelOutcome:
    """What custodes could prove about one model file's origin."""

    element: str
    status: str
    """verified | broken | unverifiable | unsigned | not_present (no file to check)."""
    method: str | None = None
    """attestation | signature: what was checked."""
    detail: str = ""
    """The link that broke, what could not be checked, or what verified."""
    user_generated_share: float | None = None
    """Share of the training rows from user-generated sources, from the attestation."""
    tier_rows: tuple[tuple[str, int], ...] = ()

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def _load_keys(paths: Sequence[Path]) -> tuple[dict[str, Any], list[Path], list[str]]:
    """Split the declared public keys into Ed25519 ones (attestations, by key id) and EC
    ones (OpenSSF model signatures); unreadable keys are problems, not crashes."""
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from custodes.provenance.keys import key_id

    ed: dict[str, Any] = {}
    ec: list[Path] = []
    problems: list[str] = []
    for path in paths:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"public key {path.name} cannot be read: {exc}")
            continue
        if isinstance(key, Ed25519PublicKey):
            ed[key_id(key)] = key
        elif isinstance(key, EllipticCurvePublicKey):
            ec.append(path)
        else:
            problems.append(f"public key {path.name} is neither Ed25519 nor EC")
    return ed, ec, problems


def _check_attestation(
    element: str, model: Path, attestation: Path, keys: dict[str, Any], base: Path
) -> ModelOutcome:
    from custodes.provenance.chain import verify_chain
    from custodes.provenance.lineage import ModelMismatch, build_lineage

    report = verify_chain(model, attestation, keys, base)
    broken = report.broken
    if broken is not None:
        return ModelOutcome(element, "broken", "attestation", f"{broken.name}: {broken.detail}")
    try:
        lineage = build_lineage(model, attestation, base)
    except (CustodesError, ModelMismatch) as exc:
        return ModelOutcome(element, "verified", "attestation", f"chain verified; lineage: {exc}")
    share = lineage.user_generated_share
    rows = tuple(sorted(lineage.tier_rows().items()))
    return ModelOutcome(
        element,
        "verified",
        "attestation",
        f"training attestation and {len(lineage.datasets)} dataset manifest(s) verified",
        user_generated_share=share,
        tier_rows=rows,
    )


def _check_signature(element: str, model: Path, signature: Path, keys: list[Path]) -> ModelOutcome:
    from custodes.provenance.model_signing import verify_model

    folder = model if model.is_dir() else model.parent
    first: list[str] = []
    for key in keys:
        problems = verify_model(folder, signature, key)
        if not problems:
            return ModelOutcome(
                element, "verified", "signature", f"model signature verified with {key.name}"
            )
        first = first or problems
    return ModelOutcome(element, "broken", "signature", "; ".join(first[:_NAMED]))


def check_model(system: LoadedSystem, index: int) -> ModelOutcome:
    """Verify one model's declared signature or training attestation; never raises."""
    m = system.model.models[index]
    base = system.path.parent
    path = base / m.path if m.path else None
    if path is None or not (path.exists() or path.is_symlink()):
        return ModelOutcome(m.id, "not_present")
    if m.attestation is None and m.signature is None:
        return ModelOutcome(m.id, "unsigned")
    method = "attestation" if m.attestation is not None else "signature"
    ed, ec, problems = _load_keys([base / k for k in m.public_keys])
    if problems:
        return ModelOutcome(m.id, "unverifiable", method, "; ".join(problems))
    try:
        if m.attestation is not None:
            if not ed:
                return ModelOutcome(
                    m.id,
                    "unverifiable",
                    method,
                    "no Ed25519 public key declared (public_keys) to check the attestation with",
                )
            return _check_attestation(m.id, path, base / m.attestation, ed, base)
        assert m.signature is not None
        if not ec:
            return ModelOutcome(
                m.id,
                "unverifiable",
                method,
                "no EC public key declared (public_keys) to check the model signature with",
            )
        return _check_signature(m.id, path, base / m.signature, ec)
    except CustodesError as exc:
        return ModelOutcome(m.id, "unverifiable", method, exc.diagnostics())
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return ModelOutcome(m.id, "unverifiable", method, str(exc))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _model_finding(
    o: ModelOutcome,
    loc: Location,
    rule: str,
    severity: Severity,
    message: str,
    facts: tuple[str, ...],
    fix: str,
) -> Finding:
    return Finding(
        rule_id=RuleId(rule),
        category=Category.ARTIFACT,
        severity=severity,
        message=message,
        location=loc,
        threats=("SUPPLYMODELPOISON",),
        element=o.element,
        facts=facts,
        remediation=fix,
        subject=o.element,
    )


def model_findings(
    system: LoadedSystem, outcomes: Sequence[ModelOutcome], max_user_share: float | None
) -> list[Finding]:
    """Findings for unsigned, unverifiable and broken models, and a user-generated share
    of training rows above the policy's limit."""
    by_id = {m.id: (i, m) for i, m in enumerate(system.model.models)}
    findings: list[Finding] = []
    for o in outcomes:
        i, m = by_id[o.element]
        loc = Location(path=str(system.path), line=system.line_of(("models", i, "id")))

        if o.status == "unsigned":
            declared = " although custodes.yaml says signed: true" if m.signed else ""
            findings.append(
                _model_finding(
                    o,
                    loc,
                    "PROV-MODEL-UNSIGNED",
                    Severity.HIGH if m.signed else Severity.MEDIUM,
                    f"model {m.label!r} has no signature or training attestation to "
                    f"verify{declared}: nothing proves the file is the one training produced",
                    (f"path: {m.path}", f"declared signed: {m.signed}"),
                    "sign it (custodes provenance sign-model, or attest-training) "
                    "and declare signature: or attestation: with public_keys: in custodes.yaml",
                )
            )
        elif o.status == "unverifiable":
            findings.append(
                _model_finding(
                    o,
                    loc,
                    "PROV-MODEL-UNVERIFIABLE",
                    Severity.HIGH,
                    f"model {m.label!r}: its {o.method} cannot be verified: {o.detail}",
                    (f"path: {m.path}", f"{o.method}: declared"),
                    "declare the signer's public key (public_keys:) and check the "
                    "signature or attestation path",
                )
            )
        elif o.status == "broken":
            findings.append(
                _model_finding(
                    o,
                    loc,
                    "PROV-MODEL-BROKEN",
                    Severity.HIGH,
                    f"model {m.label!r} fails {o.method} verification: {o.detail}",
                    (f"path: {m.path}", f"{o.method}: {o.detail}"),
                    "do not deploy this file; find out which link changed and "
                    "re-sign only after review",
                )
            )
        share = o.user_generated_share
        if max_user_share is not None and share is not None and share > max_user_share:
            findings.append(
                Finding(
                    rule_id=RuleId("PROV-USER-SHARE"),
                    category=Category.DATA,
                    severity=Severity.HIGH,
                    message=f"{_pct(share)} of the rows that trained model {m.label!r} come "
                    f"from user-generated sources; the policy allows at most "
                    f"{_pct(max_user_share)}",
                    location=loc,
                    threats=("DATAPOISON",),
                    element=o.element,
                    facts=tuple(f"{tier}: {rows:,} rows" for tier, rows in o.tier_rows),
                    remediation="retrain with less user-generated data, or review and "
                    "validate it (custodes data check) and raise the limit in the policy",
                    subject=o.element,
                )
            )
    return findings


def run_model_checks(
    system: LoadedSystem, max_user_share: float | None = None
) -> tuple[list[ModelOutcome], list[Finding]]:
    """Verify every model file custodes.yaml declares; every problem is a finding."""
    outcomes = [
        o
        for o in (check_model(system, i) for i in range(len(system.model.models)))
        if o.status != "not_present"
    ]
    return outcomes, model_findings(system, outcomes, max_user_share)


def model_gaps(outcomes: Sequence[ModelOutcome]) -> dict[int, list[Gap]]:
    """A model whose signature or attestation fails is not what was trained: Q1."""
    gaps: dict[int, list[Gap]] = {1: []}
    for o in outcomes:
        if o.status == "broken":
            gaps[1].append(
                Gap(
                    "dependency map",
                    f"model {o.element!r} fails {o.method} verification ({o.detail})",
                    (o.element,),
                )
            )
    return gaps


def provenance_evidence(
    manifests: Sequence[ManifestOutcome], models: Sequence[ModelOutcome]
) -> dict[str, tuple[bool, str]]:
    """Per element: did verification pass, and what was checked (for the threat model)."""
    evidence: dict[str, tuple[bool, str]] = {}
    for o in manifests:
        if o.status == "ok":
            evidence[o.element] = (True, f"manifest {o.manifest} matches the data")
        elif o.status == "mismatch":
            evidence[o.element] = (False, f"data differs from manifest {o.manifest}")
        elif o.status in ("unreadable", "missing"):
            evidence[o.element] = (False, f"manifest {o.status}")
    for m in models:
        if m.status == "verified":
            evidence[m.element] = (True, m.detail)
        elif m.status in ("broken", "unverifiable"):
            evidence[m.element] = (False, m.detail)
    return evidence
