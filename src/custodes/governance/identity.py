"""Who is acting: a person proves it with a key of their own, never with a name they type.

Locally each person holds an Ed25519 private key (``custodes keys generate``) and an
admin registers its public half against their handle and roles. Every command signs a
fresh challenge with that key; the store checks the signature with the registered public
key, so holding the file is what makes you "alice", and a sign-off carries a signature
anyone can check later against the public key recorded in the audit log.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custodes.errors import CustodesError, UsageError
from custodes.provenance.keys import key_id, load_private_key, sign_document

__all__ = [
    "KEY_ENV",
    "Actor",
    "AuthenticationFailed",
    "Credential",
    "Who",
    "load_credential",
    "proves_possession",
    "public_pem",
]

#: Environment variable naming the acting person's private key file.
KEY_ENV = "CUSTODES_KEY"


class AuthenticationFailed(CustodesError):
    """The key does not belong to an active person of this store (exit 2, and audited)."""


@dataclass(frozen=True)
class Credential:
    """The private key a person acts with; it never leaves their machine."""

    private_key: Ed25519PrivateKey
    path: str

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())

    def sign(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The document with a detached Ed25519 signature by this person."""
        return sign_document(doc, self.private_key)


@dataclass(frozen=True)
class Actor:
    """An authenticated person and the roles the store grants them."""

    principal: str
    roles: tuple[str, ...]
    key_id: str
    credential: Credential | None = None
    """Present when the person's own key is at hand (the CLI) to sign sign-offs."""


#: Whoever a governance call acts as: a key to authenticate, or someone the server
#: already authenticated (by token or login session).
Who = Credential | Actor


def load_credential(path: Path | None) -> Credential:
    """The key from ``--key`` or ``$CUSTODES_KEY``; a clear error when there is none."""
    if path is None:
        env = os.environ.get(KEY_ENV)
        if not env:
            raise UsageError(
                "this command acts as a person: give --key PATH or set "
                f"{KEY_ENV} to your private key",
                hint="create one with: custodes keys generate --name YOU",
            )
        path = Path(env)
    return Credential(load_private_key(path), str(path))


def public_pem(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def proves_possession(credential: Credential, public: Ed25519PublicKey) -> bool:
    """Sign a fresh random challenge and check it with the registered public key.

    A key id is only a hash prefix; this is what shows the caller holds the private key
    whose public half the admin registered.
    """
    challenge = secrets.token_bytes(32)
    try:
        public.verify(credential.private_key.sign(challenge), challenge)
    except InvalidSignature:
        return False
    return True
