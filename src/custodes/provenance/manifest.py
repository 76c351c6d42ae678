"""Manifests: what an artifact was, byte for byte, and where it came from.

A manifest pins every file of a dataset or model (SHA-256, size, and for Parquet the schema
fingerprint and row count read from the footer) under one Merkle root, next to the
provenance a reviewer needs: source, tier, custodian, licence, sensitive-data flags and
the chain-of-custody reference. Files are streamed in 1 MiB chunks and hashed in threads
(hashlib releases the GIL), so a 10 GB dataset costs flat memory and all cores.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custodes.errors import InputError
from custodes.provenance.hashing import Progress, hash_tree, merkle_root, walk

__all__ = [
    "DIR_MANIFEST",
    "FORMAT",
    "VERSION",
    "Provenance",
    "Tier",
    "Verification",
    "build_manifest",
    "canonical_bytes",
    "default_manifest_path",
    "load_manifest",
    "verify_tree",
    "write_manifest",
]

FORMAT = "custodes-manifest"
VERSION = 1
DIR_MANIFEST = "custodes-manifest.json"


class Tier(enum.StrEnum):
    """How far a source is from us: the further, the more custody evidence it needs."""

    first_party = "first_party"
    broker = "broker"
    user_generated = "user_generated"


@dataclass(frozen=True)
class Provenance:
    """Where the artifact came from and who answers for it."""

    source: str
    tier: Tier
    custodian: str | None = None
    acquired_at: str | None = None
    license: str | None = None
    personal_data: bool = False
    health_data: bool = False
    biometric_data: bool = False
    chain_of_custody: str | None = None

    def warnings(self) -> list[str]:
        """Gaps a reviewer must see; third-party data without custody papers is one."""
        if self.chain_of_custody is None and self.tier is not Tier.first_party:
            return [
                f"no chain-of-custody documentation for {self.tier.value} source "
                f"{self.source!r}: who held this data before us is unknown"
            ]
        return []


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes a signature covers (no floats used)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def default_manifest_path(path: Path) -> Path:
    """Inside a folder as custodes-manifest.json, else PATH.manifest.json beside the file."""
    return path / DIR_MANIFEST if path.is_dir() else path.with_name(path.name + ".manifest.json")


def build_manifest(
    path: Path,
    provenance: Provenance,
    *,
    exclude: Iterable[Path] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The manifest document of ``path`` (unsigned); refuses trees holding symlinks."""
    tree = walk(path, exclude)
    if tree.refused:
        raise InputError(
            f"refusing to record: {', '.join(tree.refused[:5])} "
            "is a symlink or special file (custodes never follows links)",
            path=path,
            hint="replace links with the files they point to, or remove them",
        )
    entries = hash_tree(tree, tabular=True, progress=progress)
    schemas = {e.schema_sha256 for e in entries if e.schema_sha256 is not None}
    warnings = provenance.warnings()
    if len(schemas) > 1:
        warnings.append(f"Parquet files disagree on schema: {len(schemas)} distinct schemas")
    tabular = [e.rows for e in entries if e.rows is not None]
    prov = asdict(provenance) | {"tier": provenance.tier.value}
    return {
        "format": FORMAT,
        "version": VERSION,
        "subject": {
            "name": path.name,
            "kind": "file" if path.is_file() else "directory",
            "files": len(entries),
            "bytes": sum(e.size for e in entries),
            "rows": sum(tabular) if tabular else None,
            "schema_sha256": schemas.pop() if len(schemas) == 1 else None,
        },
        "recorded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "provenance": prov,
        "files": [e.to_json() for e in entries],
        "merkle_root": merkle_root((e.path, e.sha256) for e in entries),
        "warnings": warnings,
    }


def write_manifest(doc: dict[str, Any], output: Path) -> None:
    """Sorted keys and fixed indentation: the same manifest always writes the same bytes."""
    text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write manifest: {exc.strerror}", path=output) from None


@dataclass(frozen=True)
class Verification:
    """What differs between a manifest and the files on disk now."""

    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    refused: tuple[str, ...]
    recorded_root: str
    computed_root: str
    files: int

    @property
    def root_consistent(self) -> bool:
        """False when the manifest's own file list no longer hashes to its Merkle root."""
        return self.recorded_root == self.computed_root

    @property
    def ok(self) -> bool:
        return self.root_consistent and not (
            self.changed or self.added or self.removed or self.refused
        )


def load_manifest(path: Path) -> dict[str, Any]:
    """A manifest document, or an InputError naming the file and what is wrong (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("manifest not found", path=path, hint="record one first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read manifest: {exc}", path=path) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"manifest is not valid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"not a custodes manifest (format is not {FORMAT!r})", path=path)
    if doc.get("version") != VERSION:
        raise InputError(
            f"unsupported manifest version {doc.get('version')!r} (this custodes reads {VERSION})",
            path=path,
        )
    if not isinstance(doc.get("merkle_root"), str):
        raise InputError("manifest has no merkle_root", path=path)
    files = doc.get("files")
    if not isinstance(files, list):
        raise InputError("manifest 'files' is not a list", path=path)
    seen: set[str] = set()
    for i, f in enumerate(files):
        ok = (
            isinstance(f, dict)
            and isinstance(f.get("path"), str)
            and isinstance(f.get("size"), int)
            and isinstance(f.get("sha256"), str)
            and len(f["sha256"]) == 64
            and all(c in "0123456789abcdef" for c in f["sha256"])
        )
        if not ok:
            raise InputError(f"files[{i}] needs path, size and a 64-hex sha256", path=path)
        if f["path"] in seen:
            raise InputError(f"files[{i}] repeats path {f['path']!r}", path=path)
        seen.add(f["path"])
    return doc


def verify_tree(
    path: Path,
    doc: dict[str, Any],
    *,
    exclude: Iterable[Path] = (),
    progress: Progress | None = None,
) -> Verification:
    """Re-hash ``path`` (streaming, in parallel) and compare with a loaded manifest."""
    tree = walk(path, exclude)
    now = {e.path: e for e in hash_tree(tree, progress=progress, vanished_ok=True)}
    then = {f["path"]: (f["size"], f["sha256"]) for f in doc["files"]}
    return Verification(
        changed=tuple(
            p for p in sorted(now.keys() & then.keys()) if (now[p].size, now[p].sha256) != then[p]
        ),
        added=tuple(sorted(now.keys() - then.keys())),
        removed=tuple(sorted(then.keys() - now.keys())),
        refused=tree.refused,
        recorded_root=doc["merkle_root"],
        computed_root=merkle_root((p, d) for p, (_, d) in then.items()),
        files=len(now),
    )
