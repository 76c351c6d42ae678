"""Training attestations: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

Why these formats rather than our own: in-toto Statements and DSSE envelopes are what
SLSA, Sigstore and the OpenSSF tooling read, so an attestation custodes writes can be
checked by tools that have never heard of custodes. The predicate follows SLSA provenance
v1 (``buildDefinition`` / ``runDetails``): the training run is the "build", the model is
the subject, and its ``resolvedDependencies`` are the code commit and every dataset
manifest, pinned by Merkle root and by the head of its custody log at attestation time
(a hash chain alone cannot reveal that its last events were cut off; the pin can).

DSSE signs PAE(payloadType, payload), never the parsed JSON, so verification happens on
the exact bytes before anything in them is trusted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custodes.errors import InputError, UsageError
from custodes.provenance.events import events_path, verify_log
from custodes.provenance.hashing import hash_file
from custodes.provenance.keys import key_id
from custodes.provenance.manifest import DIR_MANIFEST, load_manifest

__all__ = [
    "BUILD_TYPE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "DatasetRef",
    "build_statement",
    "dataset_refs",
    "dataset_root",
    "model_digest",
    "pae",
    "read_envelope",
    "resolve_manifest",
    "sign_envelope",
    "statement_of",
    "verify_envelope",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://custodes.dev/training/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
MERKLE = "custodesMerkleRoot"  # DigestSet key: a Merkle root is not the sha256 of one blob
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: lengths stop type/body boundary confusion."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def model_digest(model: Path) -> str:
    """Streamed SHA-256 of the model file; a missing file is bad input (exit 2)."""
    if not model.is_file() or model.is_symlink():
        raise InputError("model file not found (or not a regular file)", path=model)
    try:
        return hash_file(model)[1]
    except FileNotFoundError:
        raise InputError("model file not found", path=model) from None


def _dataset_dependency(manifest: Path) -> dict[str, Any]:
    doc = load_manifest(manifest)
    check = verify_log(events_path(manifest), {}, None)  # hashes only: pin the head we saw
    raw = doc.get("provenance")
    prov: dict[str, Any] = raw if isinstance(raw, dict) else {}
    annotations = {
        "kind": "dataset",
        "source": prov.get("source"),
        "tier": prov.get("tier"),
        "rows": doc.get("subject", {}).get("rows"),
        "events": check.events,
        "events_head": check.head,
    }
    return {
        "name": doc.get("subject", {}).get("name", manifest.name),
        "uri": manifest.as_posix(),
        "digest": {MERKLE: doc["merkle_root"]},
        "annotations": annotations,
    }


def build_statement(
    model: Path, manifests: list[Path], commit: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """The Statement for one training run: model as subject, code and data as dependencies."""
    if not _COMMIT.match(commit):
        raise UsageError(f"--commit expects a hex git commit, got {commit!r}")
    if not manifests:
        raise UsageError("give at least one --dataset manifest")
    deps = [{"name": "code", "uri": f"git+commit:{commit}", "digest": {"gitCommit": commit}}]
    deps += [_dataset_dependency(m) for m in manifests]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model.name, "digest": {"sha256": model_digest(model)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "commit": commit,
                    "parameters": dict(sorted(params.items())),
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": "https://custodes.dev/cli/attest-training"},
                "metadata": {
                    "startedOn": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            },
        },
    }


def sign_envelope(statement: Mapping[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope around the statement's JSON bytes, signed over their PAE."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    sig = private.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(private.public_key()), "sig": base64.b64encode(sig).decode("ascii")}
        ],
    }


def read_envelope(path: Path) -> dict[str, Any]:
    """A structurally sound DSSE envelope, or an InputError (exit 2) saying what is wrong."""
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("attestation not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read attestation: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"attestation is not JSON: {exc.msg}", path=path, line=exc.lineno
        ) from None
    sigs = env.get("signatures") if isinstance(env, dict) else None
    if not (
        isinstance(env, dict)
        and isinstance(env.get("payload"), str)
        and isinstance(env.get("payloadType"), str)
        and isinstance(sigs, list)
        and sigs
        and all(isinstance(s, dict) and isinstance(s.get("sig"), str) for s in sigs)
    ):
        raise InputError("not a DSSE envelope (payloadType, payload, signatures[].sig)", path=path)
    if env["payloadType"] != PAYLOAD_TYPE:
        raise InputError(f"payloadType is {env['payloadType']!r}, not {PAYLOAD_TYPE!r}", path=path)
    return env


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_envelope(
    env: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]
) -> tuple[bool, str]:
    """(ok, detail): some signature by a trusted key over the PAE of the exact payload."""
    payload = _b64(env["payload"])
    if payload is None:
        return False, "payload is not valid base64 (envelope edited)"
    message = pae(env["payloadType"], payload)
    signers = []
    for entry in env["signatures"]:
        kid = entry.get("keyid")
        signers.append(str(kid))
        key = trusted.get(kid) if isinstance(kid, str) else None
        sig = _b64(entry["sig"])
        if key is None or sig is None:
            continue
        try:
            key.verify(sig, message)
        except InvalidSignature:
            return False, f"signature by key {kid} does not match the payload (forged or edited)"
        return True, f"signed by key {kid}"
    return False, f"signed by key {', '.join(signers)}, not by a trusted key ({', '.join(trusted)})"


def statement_of(env: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The Statement inside a (verified) envelope; an InputError when it is not one."""
    try:
        doc = json.loads(base64.b64decode(env["payload"], validate=True))
    except (binascii.Error, ValueError):
        raise InputError("attestation payload is not base64 JSON", path=path) from None
    subject = doc.get("subject") if isinstance(doc, dict) else None
    if not (
        isinstance(doc, dict)
        and doc.get("_type") == STATEMENT_TYPE
        and isinstance(subject, list)
        and subject
        and all(isinstance(s, dict) and isinstance(s.get("digest"), dict) for s in subject)
    ):
        raise InputError(f"payload is not an in-toto Statement ({STATEMENT_TYPE})", path=path)
    if doc.get("predicateType") != PREDICATE_TYPE or not isinstance(doc.get("predicate"), dict):
        raise InputError(f"predicateType is not {PREDICATE_TYPE}", path=path)
    return doc


@dataclass(frozen=True)
class DatasetRef:
    """One dataset input as the attestation recorded it."""

    name: str
    uri: str
    merkle_root: str
    annotations: dict[str, Any]


def dataset_refs(statement: Mapping[str, Any], path: Path) -> list[DatasetRef]:
    """Dataset dependencies of a training Statement, in the order they were given."""
    deps = statement["predicate"].get("buildDefinition", {}).get("resolvedDependencies")
    if not isinstance(deps, list):
        raise InputError("predicate has no buildDefinition.resolvedDependencies", path=path)
    refs = []
    for dep in deps:
        digest = dep.get("digest") if isinstance(dep, dict) else None
        if not isinstance(digest, dict) or MERKLE not in digest:
            continue  # the code commit, or a dependency that is not a custodes dataset
        ann = dep.get("annotations") if isinstance(dep.get("annotations"), dict) else {}
        if not isinstance(dep.get("uri"), str):
            raise InputError("a dataset dependency has no uri", path=path)
        refs.append(DatasetRef(str(dep.get("name")), dep["uri"], str(digest[MERKLE]), ann))
    return refs


def resolve_manifest(uri: str, data_root: Path | None, attestation: Path) -> Path:
    """Where a dataset manifest is now: under --data-root, else as recorded or beside the file."""
    recorded = Path(uri)
    if recorded.is_absolute():
        return recorded
    if data_root is not None:
        return data_root / recorded
    for candidate in (recorded, attestation.parent / recorded):
        if candidate.exists():
            return candidate
    return recorded


def dataset_root(manifest: Path, doc: Mapping[str, Any]) -> Path | None:
    """The recorded file or folder a manifest describes, when it is still where we expect."""
    if manifest.name == DIR_MANIFEST:
        candidate = manifest.parent
    elif manifest.name.endswith(".manifest.json"):
        candidate = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
    else:
        name = str(doc.get("subject", {}).get("name") or "")
        if not name or "/" in name:
            return None
        candidate = manifest.parent / name
    return candidate if candidate.exists() else None
