"""Ed25519 keys and detached manifest signatures.

A digest proves bytes did not change; a signature proves who vouched for them. Ed25519 is
small, fast, deterministic and has no parameters to get wrong. The signature covers the
manifest's canonical JSON without its ``signature`` field, so re-indenting the file does
not break it but changing any value does. ``key_id`` (first 16 hex of the SHA-256 of the
raw public key) lets a verifier say *which* key signed when it is not the expected one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custodes.errors import InputError
from custodes.provenance.manifest import canonical_bytes

__all__ = [
    "ALG",
    "SignatureCheck",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "sign_document",
    "verify_document",
    "write_keypair",
]

#: Private keys :func:`write_keypair` writes: Ed25519 here, EC P-256 for model signing.
PrivateKeyTypes = Ed25519PrivateKey | EllipticCurvePrivateKey

ALG = "ed25519"


def key_id(public: Ed25519PublicKey) -> str:
    """Short stable name of a public key: sha256 of its 32 raw bytes, first 16 hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path, str]:
    """Write an Ed25519 NAME.pem (private, 0600) and NAME.pub.pem; never overwrite either."""
    key = Ed25519PrivateKey.generate()
    private, public = write_keypair(directory, name, key)
    return private, public, key_id(key.public_key())


def write_keypair(directory: Path, name: str, key: PrivateKeyTypes) -> tuple[Path, Path]:
    """Write ``key`` as NAME.pem (PKCS#8, 0600) and NAME.pub.pem; never overwrite either.

    The private file is created with O_EXCL and mode 0600 in one step, so there is no
    window where another user could read it and no way to clobber an existing key.
    """
    private_path, public_path = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise InputError("key file exists; refusing to overwrite it", path=path)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, data, mode in (
            (private_path, private_pem, 0o600),
            (public_path, public_pem, 0o644),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(path, mode)  # the umask may have narrowed it; 0600 must be exact
    except FileExistsError as exc:
        raise InputError("key file exists; refusing to overwrite it", path=exc.filename) from None
    except OSError as exc:
        raise InputError(f"cannot write key: {exc.strerror}", path=exc.filename) from None
    return private_path, public_path


def _read_pem(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("key file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read key: {exc.strerror}", path=path) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM, or an InputError saying what the file is instead."""
    try:
        key = serialization.load_pem_private_key(_read_pem(path), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM private key: {exc}", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"not an Ed25519 key ({type(key).__name__})", path=path)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo)."""
    try:
        key = serialization.load_pem_public_key(_read_pem(path))
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM public key: {exc}", path=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"not an Ed25519 key ({type(key).__name__})", path=path)
    return key


def _signed_bytes(doc: dict[str, Any]) -> bytes:
    return canonical_bytes({k: v for k, v in doc.items() if k != "signature"})


def sign_document(doc: dict[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    """``doc`` with a detached signature over its canonical JSON (any old one replaced)."""
    value = base64.b64encode(private.sign(_signed_bytes(doc))).decode("ascii")
    signature = {"alg": ALG, "key_id": key_id(private.public_key()), "value": value}
    return {k: v for k, v in doc.items() if k != "signature"} | {"signature": signature}


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking a document's signature against one expected key."""

    status: str  # valid | invalid | missing | wrong_key | malformed
    detail: str
    key_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "valid"


def verify_document(doc: dict[str, Any], public: Ed25519PublicKey) -> SignatureCheck:
    """Check the detached signature of ``doc`` with ``public``; never raises on bad input."""
    expected = key_id(public)
    sig = doc.get("signature")
    if sig is None:
        return SignatureCheck("missing", "manifest is not signed", expected)
    if not isinstance(sig, dict) or sig.get("alg") != ALG or not isinstance(sig.get("value"), str):
        return SignatureCheck("malformed", f"signature is not an {ALG} signature block", expected)
    signer = sig.get("key_id")
    if signer != expected:
        return SignatureCheck(
            "wrong_key", f"signed by key {signer}, not by the given key {expected}", expected
        )
    try:
        public.verify(base64.b64decode(sig["value"], validate=True), _signed_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError):
        return SignatureCheck(
            "invalid", "signature does not match the manifest (tampered or re-signed)", expected
        )
    return SignatureCheck("valid", f"signed by key {expected}", expected)
