"""The verification status of every link in a model's lineage, dataset by dataset.

``verify-chain`` stops at the first broken link because it answers "may I trust this
model?". A lineage page answers "which of these inputs can I vouch for?", so each dataset
is walked on its own (with the same checks, :func:`custodes.provenance.chain._walk_dataset`)
and a tampered dataset does not hide the state of the others.

Without trusted public keys the digests are still checked (they need no key), while
signatures and custody logs are reported ``unchecked`` rather than failed: an absent key
is the reviewer's omission, not evidence of tampering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custodes.provenance.attest import (
    DatasetRef,
    dataset_refs,
    dataset_root,
    read_envelope,
    resolve_manifest,
    statement_of,
    verify_envelope,
)
from custodes.provenance.chain import ChainReport, _walk_dataset
from custodes.provenance.events import events_path
from custodes.provenance.hashing import merkle_root
from custodes.provenance.manifest import load_manifest, verify_tree

__all__ = ["LineageLinks", "LinkStatus", "check_lineage_links"]

Status = Literal["ok", "failed", "unchecked"]


@dataclass(frozen=True)
class LinkStatus:
    """One link: what was checked, whether it held, and the evidence in words."""

    name: str
    status: Status
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class LineageLinks:
    """Links of the training run (attestation, model) and of each dataset by name."""

    run: list[LinkStatus] = field(default_factory=list)
    datasets: dict[str, list[LinkStatus]] = field(default_factory=dict)
    commit: str | None = None
    keys_given: bool = False

    def failures(self) -> list[LinkStatus]:
        every = [*self.run, *(link for links in self.datasets.values() for link in links)]
        return [link for link in every if link.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures()

    def dataset_ok(self, name: str) -> bool:
        return all(link.ok for link in self.datasets.get(name, []))

    def to_json(self) -> dict[str, Any]:
        def row(link: LinkStatus) -> dict[str, str]:
            return {"link": link.name, "status": link.status, "detail": link.detail}

        return {
            "verdict": "ok" if self.ok else "failed",
            "run": [row(k) for k in self.run],
            "datasets": {n: [row(k) for k in links] for n, links in self.datasets.items()},
        }


def _strip(label: str, name: str) -> str:
    """``dataset forum: files`` → ``files``: the dataset is already the row's subject."""
    prefix = f"dataset {name}: "
    return label[len(prefix) :] if label.startswith(prefix) else label


def _digests_only(ref: DatasetRef, data_root: Path | None, attestation: Path) -> list[LinkStatus]:
    """The key-free half of a dataset walk: manifest digest and files; signatures unchecked."""
    manifest = resolve_manifest(ref.uri, data_root, attestation)
    doc = load_manifest(manifest)
    out: list[LinkStatus] = []
    computed = merkle_root((f["path"], f["sha256"]) for f in doc["files"])
    if doc["merkle_root"] != ref.merkle_root:
        detail = (
            f"{manifest} has merkle root {doc['merkle_root'][:16]}…, "
            f"the attestation pinned {ref.merkle_root[:16]}…"
        )
        return [LinkStatus("manifest digest", "failed", detail)]
    if computed != doc["merkle_root"]:
        detail = f"{manifest} file list no longer hashes to its root"
        return [LinkStatus("manifest digest", "failed", detail)]
    out.append(LinkStatus("manifest digest", "ok", f"merkle root {ref.merkle_root}"))
    if "signature" in doc:
        out.append(LinkStatus("manifest signature", "unchecked", "no --public-key given"))
    else:
        out.append(LinkStatus("manifest signature", "ok", "unsigned manifest (nothing to check)"))
    log_path = events_path(manifest)
    root = dataset_root(manifest, doc)
    if root is None:
        out.append(LinkStatus("files", "unchecked", "not reachable here: manifest checked only"))
    else:
        result = verify_tree(root, doc, exclude=[manifest, log_path])
        diffs = [f"changed {p}" for p in result.changed] + [f"added {p}" for p in result.added]
        diffs += [f"removed {p}" for p in result.removed] + [f"refused {p}" for p in result.refused]
        if diffs:
            out.append(LinkStatus("files", "failed", f"{root}: " + ", ".join(diffs)))
            return out
        out.append(LinkStatus("files", "ok", f"{result.files} file(s) match"))
    if log_path.exists():
        out.append(LinkStatus("custody events", "unchecked", "no --public-key given"))
    return out


def check_lineage_links(
    attestation: Path,
    trusted: Mapping[str, Ed25519PublicKey] | None,
    data_root: Path | None = None,
) -> LineageLinks:
    """Every link behind a model whose lineage was built (so its digest already matched).

    ``trusted`` None means no keys were given: signatures are reported ``unchecked``.
    """
    env = read_envelope(attestation)
    statement = statement_of(env, attestation)
    params = statement["predicate"].get("buildDefinition", {}).get("externalParameters", {})
    commit = params.get("commit") if isinstance(params, dict) else None
    links = LineageLinks(
        commit=commit if isinstance(commit, str) else None, keys_given=trusted is not None
    )
    if trusted is None:
        links.run.append(LinkStatus("attestation signature", "unchecked", "no --public-key given"))
    else:
        ok, detail = verify_envelope(env, trusted)
        links.run.append(LinkStatus("attestation signature", "ok" if ok else "failed", detail))
    links.run.append(LinkStatus("model digest", "ok", "the model is the attestation's subject"))
    for ref in dataset_refs(statement, attestation):
        if trusted is None:
            links.datasets[ref.name] = _digests_only(ref, data_root, attestation)
            continue
        report = ChainReport(ref.name)
        _walk_dataset(report, ref, trusted, data_root, attestation)
        links.datasets[ref.name] = [
            LinkStatus(_strip(k.name, ref.name), "ok" if k.ok else "failed", k.detail)
            for k in report.links
            if not k.name.endswith(": source")
        ]
    return links
