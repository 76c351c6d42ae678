"""Walk a model's chain of custody: model → training attestation → datasets → sources.

Each link is checked against evidence, never against a declaration: the model is re-hashed,
the DSSE signature checked on the exact payload bytes, every dataset manifest matched to
the Merkle root the attestation pinned, its signature and files re-checked, its custody log
verified and compared with the head the attestation saw. The walk stops at the first broken
link because everything after it rests on evidence that no longer holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custodes.provenance.attest import (
    DatasetRef,
    dataset_refs,
    dataset_root,
    model_digest,
    read_envelope,
    resolve_manifest,
    statement_of,
    verify_envelope,
)
from custodes.provenance.events import LogCheck, events_path, verify_log
from custodes.provenance.hashing import merkle_root
from custodes.provenance.keys import verify_document
from custodes.provenance.manifest import load_manifest, verify_tree

__all__ = ["ChainReport", "Link", "verify_chain"]


@dataclass(frozen=True)
class Link:
    """One checked link of the chain and what was found."""

    name: str
    ok: bool
    detail: str


@dataclass
class ChainReport:
    """Links in the order they were walked; ``broken`` is the first that failed."""

    model: str
    links: list[Link] = field(default_factory=list)

    @property
    def broken(self) -> Link | None:
        return next((link for link in self.links if not link.ok), None)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.links.append(Link(name, ok, detail))
        return ok

    def to_json(self) -> dict[str, Any]:
        broken = self.broken
        return {
            "verdict": "ok" if broken is None else "failed",
            "model": self.model,
            "broken": None if broken is None else {"link": broken.name, "detail": broken.detail},
            "links": [{"link": k.name, "ok": k.ok, "detail": k.detail} for k in self.links],
        }


def _events_link(log: LogCheck, ref: DatasetRef) -> tuple[bool, str]:
    if not log.ok:
        return False, log.describe()[0]
    pinned = ref.annotations.get("events")
    head = ref.annotations.get("events_head")
    if isinstance(pinned, int) and pinned > 0:
        if log.events < pinned:
            return False, (
                f"{log.path}: {log.events} event(s), the attestation saw {pinned}: "
                "events were dropped from the end of the log"
            )
        if log.hashes[pinned - 1] != head:
            return False, f"{log.path}: event {pinned} differs from the one the attestation pinned"
    return True, f"{log.events} event(s), chain and signatures valid"


def _signature_link(
    doc: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]
) -> tuple[bool, str]:
    sig = doc.get("signature")
    if sig is None:
        return True, "unsigned manifest (nothing to check; a reviewer should ask why)"
    signer = sig.get("key_id") if isinstance(sig, dict) else None
    key = trusted.get(signer) if isinstance(signer, str) else None
    if key is None:
        return False, f"manifest signed by untrusted key {signer}"
    check = verify_document(dict(doc), key)
    return check.ok, check.detail


def _walk_dataset(
    report: ChainReport,
    ref: DatasetRef,
    trusted: Mapping[str, Ed25519PublicKey],
    data_root: Path | None,
    attestation: Path,
) -> bool:
    manifest = resolve_manifest(ref.uri, data_root, attestation)
    doc = load_manifest(manifest)  # missing or malformed: bad input, exit 2
    label = f"dataset {ref.name}"
    computed = merkle_root((f["path"], f["sha256"]) for f in doc["files"])
    if doc["merkle_root"] != ref.merkle_root:
        return report.add(
            f"{label}: manifest digest",
            False,
            f"{manifest} has merkle root {doc['merkle_root'][:16]}…, "
            f"the attestation pinned {ref.merkle_root[:16]}…",
        )
    if computed != doc["merkle_root"]:
        return report.add(
            f"{label}: manifest digest", False, f"{manifest} file list no longer hashes to its root"
        )
    report.add(f"{label}: manifest digest", True, f"merkle root {ref.merkle_root}")
    ok, detail = _signature_link(doc, trusted)
    if not report.add(f"{label}: manifest signature", ok, detail):
        return False
    log_path = events_path(manifest)
    root = dataset_root(manifest, doc)
    if root is None:
        report.add(f"{label}: files", True, "not reachable here: manifest checked, files not")
    else:
        result = verify_tree(root, doc, exclude=[manifest, log_path])
        diffs = [f"changed {p}" for p in result.changed] + [f"added {p}" for p in result.added]
        diffs += [f"removed {p}" for p in result.removed] + [f"refused {p}" for p in result.refused]
        detail = f"{root}: " + ", ".join(diffs) if diffs else f"{result.files} file(s) match"
        if not report.add(f"{label}: files", not diffs, detail):
            return False
    pinned = ref.annotations.get("events")
    if log_path.exists() or (isinstance(pinned, int) and pinned > 0):
        ok, detail = _events_link(verify_log(log_path, trusted, doc["merkle_root"]), ref)
        if not report.add(f"{label}: custody events", ok, detail):
            return False
    raw = doc.get("provenance")
    prov: dict[str, Any] = raw if isinstance(raw, dict) else {}
    notes = [w for w in doc.get("warnings", []) if isinstance(w, str)]
    source = f"{prov.get('source')} ({prov.get('tier')})"
    if prov.get("custodian"):
        source += f", custodian {prov['custodian']}"
    return report.add(f"{label}: source", True, "; ".join([source, *notes]))


def verify_chain(
    model: Path,
    attestation: Path,
    trusted: Mapping[str, Ed25519PublicKey],
    data_root: Path | None = None,
) -> ChainReport:
    """Check every link from ``model`` back to its data sources; stop at the first break."""
    report = ChainReport(str(model))
    env = read_envelope(attestation)
    digest = model_digest(model)
    ok, detail = verify_envelope(env, trusted)
    if not report.add("attestation signature", ok, detail):
        return report
    statement = statement_of(env, attestation)
    subjects = [s["digest"].get("sha256") for s in statement["subject"]]
    if digest not in subjects:
        report.add(
            "model digest",
            False,
            f"{model} has sha256 {digest[:16]}…, the attestation covers "
            f"{', '.join(str(s)[:16] + '…' for s in subjects)}",
        )
        return report
    report.add("model digest", True, f"sha256 {digest}")
    refs = dataset_refs(statement, attestation)
    if not report.add("training inputs", bool(refs), f"{len(refs)} dataset manifest(s) attested"):
        return report
    for ref in refs:
        if not _walk_dataset(report, ref, trusted, data_root, attestation):
            break
    return report
