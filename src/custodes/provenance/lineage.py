"""Lineage: which sources, of which tiers, flowed into a model, and in what proportion.

Read from the training attestation and the dataset manifests it names. Row counts come
from the manifests (Parquet footers at record time), not from the attestation's own
annotations, so the shares describe the data as recorded. The user-generated share is
the number a policy limits: rows anyone on the internet could have written are rows an
attacker could have written. Datasets without a row count (not Parquet) are listed but
left out of every share rather than guessed.

Lineage does not verify signatures (``verify-chain`` does); it refuses only a model whose
digest is not the attestation's subject, since the lineage of another model is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodes.errors import InputError
from custodes.provenance.attest import (
    dataset_refs,
    model_digest,
    read_envelope,
    resolve_manifest,
    statement_of,
)
from custodes.provenance.manifest import Tier, load_manifest

__all__ = ["DatasetLineage", "Lineage", "ModelMismatch", "build_lineage"]


class ModelMismatch(Exception):
    """The model file is not the subject of the attestation (a finding: exit 1)."""


@dataclass(frozen=True)
class DatasetLineage:
    """One dataset that went into training, with its source and rows."""

    name: str
    manifest: str
    merkle_root: str
    source: str
    tier: str
    custodian: str | None
    rows: int | None
    chain_of_custody: str | None


@dataclass
class Lineage:
    """The model, its datasets, and row shares by tier."""

    model: str
    sha256: str
    datasets: list[DatasetLineage] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return sum(d.rows for d in self.datasets if d.rows is not None)

    def share(self, rows: int | None) -> float | None:
        total = self.rows_total
        return None if rows is None or total == 0 else rows / total

    def tier_rows(self) -> dict[str, int]:
        """Known rows per tier, every tier listed (a zero is information too)."""
        out = {t.value: 0 for t in Tier}
        for d in self.datasets:
            if d.rows is not None:
                out[d.tier] = out.get(d.tier, 0) + d.rows
        return out

    @property
    def user_generated_share(self) -> float | None:
        return self.share(self.tier_rows()[Tier.user_generated.value])

    def to_json(self) -> dict[str, Any]:
        return {
            "model": {"name": self.model, "sha256": self.sha256},
            "rows_total": self.rows_total,
            "user_generated_share": self.user_generated_share,
            "tiers": {
                tier: {
                    "rows": rows,
                    "share": self.share(rows),
                    "sources": sorted({d.source for d in self.datasets if d.tier == tier}),
                }
                for tier, rows in self.tier_rows().items()
            },
            "datasets": [
                {
                    "name": d.name,
                    "manifest": d.manifest,
                    "merkle_root": d.merkle_root,
                    "source": d.source,
                    "tier": d.tier,
                    "custodian": d.custodian,
                    "chain_of_custody": d.chain_of_custody,
                    "rows": d.rows,
                    "share": self.share(d.rows),
                }
                for d in self.datasets
            ],
            "rows_unknown": [d.name for d in self.datasets if d.rows is None],
        }


def build_lineage(model: Path, attestation: Path, data_root: Path | None = None) -> Lineage:
    """Lineage of ``model`` from its attestation; ModelMismatch if it is another model."""
    env = read_envelope(attestation)
    statement = statement_of(env, attestation)
    digest = model_digest(model)
    if digest not in [s["digest"].get("sha256") for s in statement["subject"]]:
        raise ModelMismatch(f"{model} (sha256 {digest[:16]}…) is not the subject of {attestation}")
    lineage = Lineage(model.name, digest)
    for ref in dataset_refs(statement, attestation):
        manifest = resolve_manifest(ref.uri, data_root, attestation)
        doc = load_manifest(manifest)
        if doc["merkle_root"] != ref.merkle_root:
            raise ModelMismatch(
                f"{manifest} is not the dataset the attestation names (merkle root differs)"
            )
        prov = doc.get("provenance")
        if not isinstance(prov, dict) or not isinstance(prov.get("source"), str):
            raise InputError("manifest has no provenance.source", path=manifest)
        rows = doc.get("subject", {}).get("rows")
        lineage.datasets.append(
            DatasetLineage(
                name=ref.name,
                manifest=str(manifest),
                merkle_root=ref.merkle_root,
                source=prov["source"],
                tier=str(prov.get("tier")),
                custodian=prov.get("custodian"),
                rows=rows if isinstance(rows, int) else None,
                chain_of_custody=prov.get("chain_of_custody"),
            )
        )
    return lineage
