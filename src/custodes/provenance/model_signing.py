"""OpenSSF model-signing interop: sign and verify model folders in its bundle format.

A signature is a Sigstore bundle v0.3 holding a DSSE envelope over an in-toto Statement v1
with predicate type ``https://model_signing/signature/v1.0``. The predicate lists one
resource per file (POSIX path relative to the model folder, SHA-256) in path order; the
subject is the folder name with the SHA-256 of all raw resource digests concatenated in
that order. The DSSE PAE is signed with ECDSA (SHA-256 for P-256, SHA-384 for P-384,
SHA-512 for P-521), and the key is named only by a hint: the SHA-256 hex of its PEM
SubjectPublicKeyInfo. ``tlogEntries`` is empty: no Rekor, no Fulcio, no network.

Only ``cryptography`` is needed (``model-signing`` is used by the interop tests alone).
Files are hashed streamed and in parallel, symlinks refused, and the bundle size-capped
and parsed as JSON: nothing is executed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from custodes.errors import InputError
from custodes.provenance.hashing import Tree, hash_tree

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "PREDICATE_TYPE",
    "generate_keypair",
    "key_hint",
    "sign_model",
    "verify_model",
]

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
#: What model_signing ignores by default (``--ignore-git-paths``), relative to the folder.
GIT_PATHS = (".gitattributes", ".git", ".github", ".gitignore")
#: A bundle is a few hundred bytes per file; 64 MiB is ~200k files and refuses a bomb.
MAX_BUNDLE_BYTES = 64 << 20
_NOT_EC = "model-signing needs an EC key (P-256/P-384), not {}"
_CURVES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise InputError(f"{what} is larger than {MAX_BUNDLE_BYTES} bytes", path=path)
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", path=path) from None


def _hash_for(key: ec.EllipticCurvePublicKey, path: Path) -> hashes.HashAlgorithm:
    algorithm = _CURVES.get(key.curve.name)
    if algorithm is None:
        raise InputError(f"unsupported EC curve {key.curve.name}; use P-256 or P-384", path=path)
    return algorithm()


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, "private key"), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM private key: {exc}", path=path) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(_NOT_EC.format(type(key).__name__), path=path)
    _hash_for(key.public_key(), path)
    return key


def _load_public(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM public key: {exc}", path=path) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InputError(_NOT_EC.format(type(key).__name__), path=path)
    _hash_for(key, path)
    return key


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """The key identifier model-signing writes: SHA-256 hex of the PEM public key."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def pae(payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of an in-toto payload."""
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def _order(name: str) -> tuple[str, ...]:
    # model_signing sorts PurePosixPath items, i.e. by path components, not by string.
    return PurePosixPath(name).parts


def _ignored(rel: str, ignore: list[str]) -> bool:
    path = PurePosixPath(rel)
    return any(path.is_relative_to(PurePosixPath(p)) for p in ignore)


def _digests(
    model_dir: Path, signature: Path, ignore: list[str]
) -> tuple[dict[str, str], list[str]]:
    """{relative path: sha256} of the model's files, and the symlinks/devices refused.

    Walks like model_signing (only ``ignore_paths`` from the root are skipped, so a nested
    ``.git`` is hashed), never following a symlink; hashing is the shared streamed one.
    """
    if not model_dir.is_dir():
        raise InputError("not a model folder", path=model_dir)
    skip, stack = os.path.abspath(signature.resolve()), [model_dir]
    files: list[tuple[str, Path]] = []
    refused: list[str] = []
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise InputError(f"cannot list folder: {exc.strerror}", path=folder) from None
        for entry in entries:
            rel = Path(entry.path).relative_to(model_dir).as_posix()
            if _ignored(rel, ignore) or os.path.abspath(entry.path) == skip:
                continue
            if entry.is_symlink():
                refused.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                files.append((rel, Path(entry.path)))
            else:
                refused.append(rel)
    hashed = hash_tree(Tree(model_dir, tuple(sorted(files)), ()), vanished_ok=True)
    return {e.path: e.sha256 for e in hashed}, sorted(refused)


def _statement(name: str, digests: dict[str, str], ignore: list[str]) -> dict[str, Any]:
    names = sorted(digests, key=_order)
    root = hashlib.sha256(b"".join(bytes.fromhex(digests[n]) for n in names)).hexdigest()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "allow_symlinks": False,
                "hash_type": "sha256",
                "method": "files",
                "ignore_paths": ignore,
            },
            "resources": [{"digest": digests[n], "name": n, "algorithm": "sha256"} for n in names],
        },
    }


def sign_model(model_dir: Path, private_key_pem: Path, signature_out: Path) -> None:
    """Sign every file of ``model_dir`` into a bundle ``model_signing verify key`` accepts."""
    key = _load_private(private_key_pem)
    model_dir = model_dir.resolve()
    ignore = list(GIT_PATHS)
    rel_sig = os.path.relpath(signature_out.resolve(), model_dir)
    if not rel_sig.startswith(".."):
        ignore.append(PurePosixPath(Path(rel_sig)).as_posix())
    digests, refused = _digests(model_dir, signature_out, ignore)
    if refused:
        raise InputError(f"refusing to sign symlinks or special files: {', '.join(refused)}")
    payload = json.dumps(_statement(model_dir.name, digests, ignore), indent=2).encode()
    sig = key.sign(pae(payload), ec.ECDSA(_hash_for(key.public_key(), private_key_pem)))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(key.public_key())},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
        },
    }
    try:
        signature_out.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write signature: {exc.strerror}", path=signature_out) from None


def _field(obj: Any, key: str, kind: type, where: str, path: Path) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise InputError(
            f"malformed model signature: {where}.{key} missing or not a {kind.__name__}", path=path
        )
    return value


def _b64(text: str, where: str, path: Path) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"malformed model signature: {where} is not base64", path=path) from None


def _parse(signature: Path) -> tuple[str | None, bytes, list[bytes], dict[str, Any]]:
    """(key hint, payload, signatures, statement), or an InputError naming what is wrong."""
    try:
        bundle = json.loads(_read(signature, "model signature"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"model signature is not JSON: {exc}", path=signature) from None
    media = _field(bundle, "mediaType", str, "bundle", signature)
    if not media.startswith("application/vnd.dev.sigstore.bundle"):
        raise InputError(f"not a Sigstore bundle (mediaType {media!r})", path=signature)
    material = _field(bundle, "verificationMaterial", dict, "bundle", signature)
    public = material.get("publicKey")
    hint = public.get("hint") if isinstance(public, dict) else None
    env = _field(bundle, "dsseEnvelope", dict, "bundle", signature)
    if _field(env, "payloadType", str, "dsseEnvelope", signature) != PAYLOAD_TYPE:
        raise InputError(f"DSSE payloadType is not {PAYLOAD_TYPE}", path=signature)
    payload = _b64(_field(env, "payload", str, "dsseEnvelope", signature), "payload", signature)
    sigs = _field(env, "signatures", list, "dsseEnvelope", signature)
    if not sigs:
        raise InputError("malformed model signature: no DSSE signatures", path=signature)
    raw = [_b64(_field(s, "sig", str, "signatures[]", signature), "sig", signature) for s in sigs]
    try:
        statement = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"DSSE payload is not JSON: {exc}", path=signature) from None
    if not isinstance(statement, dict):
        raise InputError("DSSE payload is not an in-toto statement", path=signature)
    return (hint if isinstance(hint, str) and hint else None), payload, raw, statement


def _resources(statement: dict[str, Any], path: Path) -> tuple[str, dict[str, str], list[str]]:
    """(subject digest, {name: sha256}, ignore_paths) from a v1.0 statement."""
    if statement.get("_type") != STATEMENT_TYPE:
        raise InputError(f"not an in-toto {STATEMENT_TYPE} statement", path=path)
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise InputError(f"unsupported predicateType {statement.get('predicateType')!r}", path=path)
    subjects = _field(statement, "subject", list, "statement", path)
    if len(subjects) != 1:
        raise InputError("malformed model signature: expected one subject", path=path)
    root = _field(
        _field(subjects[0], "digest", dict, "subject", path), "sha256", str, "digest", path
    )
    predicate = _field(statement, "predicate", dict, "statement", path)
    ser = _field(predicate, "serialization", dict, "predicate", path)
    if ser.get("method") != "files" or ser.get("hash_type") != "sha256":
        raise InputError(
            f"unsupported serialization {ser.get('method')!r}/{ser.get('hash_type')!r}: "
            "only 'files' with sha256 is verified",
            path=path,
        )
    ignore = ser.get("ignore_paths", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise InputError(
            "malformed model signature: ignore_paths is not a list of strings", path=path
        )
    digests: dict[str, str] = {}
    for res in _field(predicate, "resources", list, "predicate", path):
        name = _field(res, "name", str, "resources[]", path)
        digest = _field(res, "digest", str, "resources[]", path)
        if res.get("algorithm") != "sha256" or len(digest) != 64 or name in digests:
            raise InputError(f"malformed model signature: bad resource {name!r}", path=path)
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise InputError(
                f"malformed model signature: digest of {name!r} is not hex", path=path
            ) from None
        digests[name] = digest.lower()
    return root.lower(), digests, ignore


def verify_model(model_dir: Path, signature: Path, public_key_pem: Path) -> list[str]:
    """Problems with ``model_dir`` against a model-signing ``signature``; empty when valid."""
    key = _load_public(public_key_pem)
    hint, payload, sigs, statement = _parse(signature)
    root, signed, ignore = _resources(statement, signature)
    problems: list[str] = []
    if hint is not None and hint != key_hint(key):
        problems.append(
            f"signed by a different key (hint {hint[:16]}…, given {key_hint(key)[:16]}…)"
        )
    algorithm = _hash_for(key, public_key_pem)
    try:
        key.verify(sigs[0], pae(payload), ec.ECDSA(algorithm))
    except InvalidSignature:
        problems.append("DSSE signature does not verify with the given public key")
    names = sorted(signed, key=_order)
    if hashlib.sha256(b"".join(bytes.fromhex(signed[n]) for n in names)).hexdigest() != root:
        problems.append("statement subject digest does not match its resources")
    actual, refused = _digests(model_dir.resolve(), signature, ignore)
    problems += [f"refused (symlink or special file): {r}" for r in refused]
    for name in sorted(set(signed) | set(actual), key=_order):
        if name not in actual:
            problems.append(f"removed: {name}")
        elif name not in signed:
            problems.append(f"added: {name}")
        elif actual[name] != signed[name]:
            problems.append(f"changed: {name}")
    return problems


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path, str]:
    """Write a P-256 NAME.pem (private, 0600) and NAME.pub.pem; return them and the key hint.

    P-256 is what ``model_signing sign key`` expects by default; the hint is what it and
    :func:`sign_model` write into the bundle to name the key.
    """
    from custodes.provenance.keys import write_keypair

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = write_keypair(directory, name, key)
    return private, public, key_hint(key.public_key())
