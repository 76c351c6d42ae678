"""Provenance: signed manifests of datasets and models, so custody can be checked, not trusted.

The public API::

    from custodes.provenance import Provenance, Tier, build_manifest, load_manifest, verify_tree
    doc = build_manifest(Path("data"), Provenance(source="acme", tier=Tier.broker))
    result = verify_tree(Path("data"), doc)        # .changed, .added, .removed, .ok

Signing lives in :mod:`custodes.provenance.keys` so that importing this package does not
load ``cryptography`` for commands that never sign.
"""

from __future__ import annotations

from custodes.provenance.hashing import FileEntry, hash_file, hash_tree, merkle_root, walk
from custodes.provenance.manifest import (
    DIR_MANIFEST,
    FORMAT,
    VERSION,
    Provenance,
    Tier,
    Verification,
    build_manifest,
    canonical_bytes,
    default_manifest_path,
    load_manifest,
    verify_tree,
    write_manifest,
)

__all__ = [
    "DIR_MANIFEST",
    "FORMAT",
    "VERSION",
    "FileEntry",
    "Provenance",
    "Tier",
    "Verification",
    "build_manifest",
    "canonical_bytes",
    "default_manifest_path",
    "hash_file",
    "hash_tree",
    "load_manifest",
    "merkle_root",
    "verify_tree",
    "walk",
    "write_manifest",
]
