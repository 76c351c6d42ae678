"""Evidence a gate can trust because custodes produced it, never because someone typed it.

Each producer runs one of custodes' own analyzers on the exact bytes of a registered
version and returns the summary the policy reads (see ``decision.EvidenceFact``). The
digest the summary is recorded against is recomputed here, at the moment of the run, so
evidence always describes the content it was produced from, even if the file changed
between registration and the check.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from custodes.errors import InputError, UsageError

__all__ = [
    "EVIDENCE_KINDS",
    "content_digest",
    "data_check_evidence",
    "provenance_evidence",
    "scan_evidence",
    "threat_model_evidence",
]

EVIDENCE_KINDS = ("scan", "data_check", "threat_model", "provenance")
_LISTED = 20


def content_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file, or the Merkle root of a folder as manifests record it.

    The same function names a version at registration and re-checks it at promotion, so
    a changed byte anywhere under the path is a different version.
    """
    from custodes.provenance.hashing import hash_file, hash_tree, merkle_root, walk

    if not path.exists():
        raise InputError("no such file or directory", path=path)
    if path.is_file():
        return "sha256:" + hash_file(path)[1]
    if not path.is_dir():
        raise InputError("not a regular file or folder", path=path)
    tree = walk(path)
    if tree.refused:
        raise InputError(
            f"refuses to name a version holding symlinks or special files: {tree.refused[0]}",
            path=path,
        )
    entries = hash_tree(tree)
    return "sha256:" + merkle_root((e.path, e.sha256) for e in entries)


def scan_evidence(path: Path) -> dict[str, Any]:
    """Run every scanner on the version; the policy compares ``max_severity``."""
    from custodes.scan import run_scan

    result = run_scan([path])
    counts = Counter(f.severity.value for f in result.findings)
    worst = max(result.findings, key=lambda f: f.severity.rank, default=None)
    return {
        "max_severity": worst.severity.value if worst else None,
        "counts": dict(sorted(counts.items())),
        "files": result.files,
        "findings": [
            {
                "rule_id": f.rule_id,
                "severity": f.severity.value,
                "message": f.message,
                "path": f.location.path if f.location else None,
                "line": f.location.line if f.location else None,
            }
            for f in sorted(result.findings, key=lambda f: -f.severity.rank)[:_LISTED]
        ],
    }


def data_check_evidence(path: Path, baseline: Path | None) -> dict[str, Any]:
    """Check the dataset version against the training baseline; the verdict is evidence."""
    from custodes.data import Baseline
    from custodes.data.check import check_batch

    if baseline is None:
        raise UsageError("a data check needs --baseline (built with custodes data baseline)")
    reference = Baseline.load(baseline)
    result = check_batch(str(path), reference, label_issues=True)
    return {
        "verdict": result.verdict,
        "reasons": list(result.reasons)[:_LISTED],
        "baseline": str(baseline),
        "baseline_sha256": hashlib.sha256(baseline.read_bytes()).hexdigest(),
        "suspect_sources": [s.source for s in result.sources if s.verdict not in ("ok", "drift")],
    }


def threat_model_evidence(system_file: Path) -> dict[str, Any]:
    """Is the threat model current, and what is the worst threat left unmitigated?"""
    from custodes.system.loader import load_system
    from custodes.threatmodel import analyze

    if not system_file.is_file():
        raise InputError(
            "no threat model here", path=system_file, hint="write one with custodes init"
        )
    tm = analyze(load_system(system_file))
    order = ("low", "medium", "high", "critical")
    open_levels = [t.residual.level for t in tm.threats if t.status in ("unmitigated", "partial")]
    worst = max(open_levels, key=order.index, default=None)
    return {
        "stale": tm.staleness.stale,
        "stale_reasons": list(tm.staleness.reasons),
        "max_unmitigated": worst,
        "unmitigated": len(open_levels),
        "model_digest": "sha256:" + hashlib.sha256(system_file.read_bytes()).hexdigest(),
    }


def provenance_evidence(
    path: Path, manifest: Path | None, public_keys: list[Path]
) -> dict[str, Any]:
    """Re-hash the version against its manifest and check the manifest's signature."""
    from custodes.provenance.keys import key_id, load_public_key, verify_document
    from custodes.provenance.manifest import default_manifest_path, load_manifest, verify_tree

    manifest = manifest if manifest is not None else default_manifest_path(path)
    if not manifest.is_file():
        return {
            "verified": False,
            "signed": False,
            "key_id": None,
            "detail": f"no provenance manifest at {manifest} (custodes provenance record)",
        }
    doc = load_manifest(manifest)
    events = manifest.with_name(manifest.name + ".events.jsonl")
    result = verify_tree(path, doc, exclude=[manifest, events])
    differing = [*result.changed, *result.added, *result.removed, *result.refused]
    signed = False
    signer = None
    detail = "manifest matches" if result.ok else f"{len(differing)} file(s) differ"
    if "signature" in doc:
        for pub in public_keys:
            key = load_public_key(pub)
            if verify_document(doc, key).ok:
                signed, signer = True, key_id(key)
                break
        if signed:
            detail += f"; signed by {signer}"
        else:
            detail += "; signature does not verify with the given public key(s)"
    else:
        detail += "; manifest is not signed"
    return {
        "verified": result.ok,
        "signed": signed,
        "key_id": signer,
        "detail": detail,
        "differing": differing[:_LISTED],
    }
