"""The tamper-evident audit log: an RFC 9162 Merkle tree of governance events.

Every governance change appends one entry in the *same* transaction as the change, so the
two commit or roll back together. Each entry embeds the root of the tree before it
(``prev_root``) and every append stores a tree head signed with the log's Ed25519 key.
Anyone holding the log public key can then check, without trusting the database:

* that no entry was altered, removed, reordered or inserted (:func:`verify`);
* that the log still extends a head they saw earlier, i.e. it was not truncated or
  rewritten behind their back (``trusted_head``, the witness check);
* that one entry is in the log, from a small self-contained bundle
  (:func:`inclusion_bundle` / :func:`check_inclusion_bundle`);
* the whole log offline (:func:`export_bundle` / :func:`verify_bundle`).

Appends serialize on the single ``log_state`` row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock), which also holds
the Merkle frontier so an append costs O(log n) and never rereads old entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from custodes.errors import InputError
from custodes.governance import merkle
from custodes.provenance.keys import key_id, load_private_key, write_keypair
from custodes.store.models import LogEntry, LogState, TreeHead

__all__ = [
    "BUNDLE_FORMAT",
    "LOG_KEY_NAME",
    "LogSigner",
    "LogVerification",
    "append",
    "canonical_json",
    "check_inclusion_bundle",
    "export_bundle",
    "inclusion_bundle",
    "latest_head",
    "load_or_create_log_key",
    "public_key_from_pem",
    "rfc3339",
    "verify",
    "verify_bundle",
]

LOG_KEY_NAME = "log-key"
BUNDLE_FORMAT = "custodes-audit-log/1"
INCLUSION_FORMAT = "custodes-inclusion/1"
_STREAM_BATCH = 2000


def canonical_json(obj: Any) -> bytes:
    """The one byte encoding hashed and signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(at: datetime) -> str:
    """``2026-11-26T12:00:00.123456Z``: fixed precision so it round-trips through the DB."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public_key_from_pem(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text, or an InputError."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"the log key is not an Ed25519 key ({type(key).__name__})")
    return key


def _public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class LogSigner:
    """The log's private key and its key id; signs tree heads."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> LogSigner:
        return cls(private_key, key_id(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_key_pem(self) -> str:
        return _public_pem(self.public_key)

    def sign(self, data: bytes) -> str:
        """Base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self.private_key.sign(data)).decode("ascii")


def load_or_create_log_key(directory: Path) -> LogSigner:
    """Load ``directory/log-key.pem``, creating the key pair (0600 / 0644) if absent.

    Two processes may race to create it; the loser's exclusive create fails and it loads
    the winner's key, retrying briefly while the winner is still writing the file.
    """
    private_path = directory / f"{LOG_KEY_NAME}.pem"
    if not private_path.exists():
        try:
            write_keypair(directory, LOG_KEY_NAME, Ed25519PrivateKey.generate())
        except InputError:
            if not private_path.exists():
                raise
    for attempt in range(50):
        try:
            return LogSigner.from_private_key(load_private_key(private_path))
        except InputError:
            if attempt == 49:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------- append


def _head_document(tree_size: int, root_hash: str, at: str, kid: str) -> dict[str, Any]:
    return {"tree_size": tree_size, "root_hash": root_hash, "at": at, "key_id": kid}


def _head_dict(head: TreeHead) -> dict[str, Any]:
    return _head_document(head.tree_size, head.root_hash, rfc3339(head.at), head.key_id) | {
        "signature": head.signature
    }


def _lock_state(session: Session) -> LogState:
    stmt = (
        select(LogState)
        .where(LogState.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    state = session.execute(stmt).scalar_one_or_none()
    if state is None:
        # The migration seeds this row; recreate it idempotently if someone removed it.
        values = {"id": 1, "size": 0, "frontier": "[]"}
        name = session.get_bind().dialect.name
        if name == "postgresql":
            session.execute(postgresql.insert(LogState).values(values).on_conflict_do_nothing())
        elif name == "sqlite":
            session.execute(sqlite.insert(LogState).values(values).on_conflict_do_nothing())
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            session.add(LogState(**values))
            session.flush()
        state = session.execute(stmt).scalar_one()
    return state


def append(
    session: Session, signer: LogSigner, kind: str, actor: str | None, payload: dict[str, Any]
) -> LogEntry:
    """Append one entry and its signed tree head inside the caller's transaction.

    Nothing is committed here: the caller commits the domain change and the log entry
    together, or rolls both back.
    """
    state = _lock_state(session)
    frontier = merkle.Frontier.from_json(state.frontier, state.size)
    seq = state.size
    now = datetime.now(UTC)
    at = rfc3339(now)
    document = {
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "data": payload,
        "prev_root": frontier.root().hex(),
    }
    body = canonical_json(document).decode()
    leaf = merkle.leaf_hash(body.encode())
    frontier.append(leaf)
    entry = LogEntry(seq=seq, at=now, kind=kind, actor=actor, payload=body, leaf_hash=leaf.hex())
    root_hex = frontier.root().hex()
    signature = signer.sign(canonical_json(_head_document(seq + 1, root_hex, at, signer.key_id)))
    head = TreeHead(
        tree_size=seq + 1, root_hash=root_hex, at=now, key_id=signer.key_id, signature=signature
    )
    state.size = frontier.size
    state.frontier = frontier.to_json()
    if state.public_key_pem is None:
        state.public_key_pem = signer.public_key_pem()
    session.add_all([entry, head])
    session.flush()
    return entry


def latest_head(session: Session) -> dict[str, Any] | None:
    """The newest signed tree head as a dict, or None for an empty log."""
    head = session.execute(
        select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    return None if head is None else _head_dict(head)


# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class LogVerification:
    """Outcome of checking a log: the first bad entry and why, or ok."""

    ok: bool
    size: int
    first_bad: int | None
    reason: str
    head: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Bad(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def _check_head_signature(head: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """None if ``head`` is signed by ``public_key``, else why not."""
    expected = key_id(public_key)
    if head.get("key_id") != expected:
        return f"signed by key {head.get('key_id')}, not by the log key {expected}"
    try:
        doc = _head_document(
            int(head["tree_size"]), str(head["root_hash"]), str(head["at"]), expected
        )
        public_key.verify(
            base64.b64decode(str(head["signature"]), validate=True), canonical_json(doc)
        )
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
        return "its signature does not verify with the log public key"
    return None


@dataclass(frozen=True)
class _Row:
    seq: int
    payload: str
    leaf_hash: str
    kind: str | None
    actor: str | None


def _check_entry(row: _Row, expected: int, frontier: merkle.Frontier) -> bytes:
    """Raise _Bad for the first problem with ``row``; return its leaf hash."""
    if row.seq != expected:
        if row.seq > expected:
            raise _Bad(expected, f"entry {expected} is missing (the next entry is {row.seq})")
        raise _Bad(row.seq, f"entry {row.seq} appears twice")
    try:
        doc = json.loads(row.payload)
    except (TypeError, ValueError):
        raise _Bad(row.seq, f"entry {row.seq} was altered: its payload is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _Bad(row.seq, f"entry {row.seq} was altered: its payload is not a JSON object")
    if doc.get("seq") != row.seq:
        raise _Bad(
            row.seq,
            f"entry {row.seq} holds the payload of entry {doc.get('seq')}: entries were reordered",
        )
    leaf = merkle.leaf_hash(row.payload.encode())
    if leaf.hex() != row.leaf_hash:
        raise _Bad(
            row.seq, f"entry {row.seq} was altered: its leaf hash does not match its payload"
        )
    if doc.get("prev_root") != frontier.root().hex():
        raise _Bad(
            row.seq,
            f"entry {row.seq} does not chain to entries 0..{row.seq - 1}: "
            "history before it was inserted or rewritten",
        )
    # kind and actor are copied into columns for querying; a DBA editing only the column
    # would change what reports show without touching the hashed payload.
    for column, value in (("kind", row.kind), ("actor", row.actor)):
        if doc.get(column) != value:
            raise _Bad(
                row.seq,
                f"entry {row.seq} was altered: its {column} column disagrees with its payload",
            )
    return leaf


def _verify_stream(
    rows: Iterable[_Row],
    heads: Iterable[dict[str, Any]],
    public_key: Ed25519PublicKey,
    trusted_head: dict[str, Any] | None,
) -> LogVerification:
    """The checks shared by :func:`verify` and :func:`verify_bundle`, in one pass."""
    frontier = merkle.Frontier()
    head_iter: Iterator[dict[str, Any]] = iter(heads)
    pending = next(head_iter, None)
    newest: dict[str, Any] | None = None
    trusted_size = int(trusted_head["tree_size"]) if trusted_head is not None else None
    try:
        if trusted_head is not None:
            problem = _check_head_signature(trusted_head, public_key)
            if problem:
                raise _Bad(None, f"the trusted tree head is not valid: {problem}")
        for row in rows:
            leaf = _check_entry(row, frontier.size, frontier)
            frontier.append(leaf)
            size = frontier.size
            root_hex = frontier.root().hex()
            if (
                trusted_size == size
                and trusted_head is not None
                and trusted_head["root_hash"] != root_hex
            ):
                raise _Bad(
                    size - 1,
                    f"the log does not extend the trusted tree head of size {size}: "
                    f"entries 0..{size - 1} were rewritten",
                )
            while pending is not None and int(pending["tree_size"]) <= size:
                head_size = int(pending["tree_size"])
                if head_size < size:  # only a size-0 head can lag behind in sorted order
                    raise _Bad(None, f"the signed tree head of size {head_size} is invalid")
                if pending["root_hash"] != root_hex:
                    raise _Bad(
                        size - 1,
                        f"entry {size - 1} or the tree head for size {size} was altered: "
                        "the signed root does not match the recomputed root",
                    )
                problem = _check_head_signature(pending, public_key)
                if problem:
                    raise _Bad(size - 1, f"the tree head for size {size} is forged: {problem}")
                newest = pending
                pending = next(head_iter, None)
        size = frontier.size
        if pending is not None:
            raise _Bad(
                size,
                f"entry {size} is missing: a signed tree head covers "
                f"{pending['tree_size']} entries but the log has {size}",
            )
        if trusted_size is not None and trusted_size > size:
            raise _Bad(
                size,
                f"entry {size} is missing: the log was truncated to {size} entries, "
                f"below the trusted tree head of size {trusted_size}",
            )
        covered = int(newest["tree_size"]) if newest is not None else 0
        if covered < size:
            raise _Bad(covered, f"entry {covered} is not covered by a signed tree head")
    except _Bad as bad:
        return LogVerification(False, frontier.size, bad.seq, bad.reason, newest)
    reason = f"{size} entries verified" + (
        f", signed by key {newest['key_id']}" if newest is not None else " (empty log)"
    )
    return LogVerification(True, size, None, reason, newest)


_ROWS = (
    select(LogEntry.seq, LogEntry.payload, LogEntry.leaf_hash, LogEntry.kind, LogEntry.actor)
    .order_by(LogEntry.seq)
    .execution_options(yield_per=_STREAM_BATCH)
)
_HEADS = select(TreeHead).order_by(TreeHead.tree_size).execution_options(yield_per=_STREAM_BATCH)


def verify(
    session: Session,
    public_key: Ed25519PublicKey,
    trusted_head: dict[str, Any] | None = None,
) -> LogVerification:
    """Check the whole log in the database, streaming it; name the first bad entry.

    ``trusted_head`` is a signed head seen earlier (by a witness, a CI job, an auditor):
    the log must still contain it, which catches truncation and rewritten history that
    the database alone could hide by deleting or re-signing heads.
    """
    # Both results stream (server-side cursors on PostgreSQL) and are closed explicitly,
    # because verification stops at the first bad entry with rows still unread.
    with session.execute(_ROWS) as rows, session.execute(_HEADS) as heads:
        return _verify_stream(
            (_Row(*row) for row in rows),
            (_head_dict(head) for head in heads.scalars()),
            public_key,
            trusted_head,
        )


# ---------------------------------------------------------------------------- bundles


def _stored_public_pem(session: Session) -> str | None:
    return session.execute(select(LogState.public_key_pem).where(LogState.id == 1)).scalar()


def inclusion_bundle(
    session: Session, seq: int, public_key_pem: str | None = None
) -> dict[str, Any]:
    """Everything needed to prove offline that entry ``seq`` is in the log.

    The proof is against the newest signed head. The log public key defaults to the one
    recorded by the first append; a checker should compare its key id with the one it
    trusts.
    """
    head = session.execute(
        select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    if head is None or not 0 <= seq < head.tree_size:
        raise InputError(f"audit log entry {seq} does not exist or is not yet covered by a head")
    entry = session.get(LogEntry, seq)
    if entry is None:
        raise InputError(f"audit log entry {seq} is missing")
    leaves_stmt = (
        select(LogEntry.leaf_hash)
        .where(LogEntry.seq < head.tree_size)
        .order_by(LogEntry.seq)
        .execution_options(yield_per=_STREAM_BATCH)
    )
    leaves = [bytes.fromhex(h) for h in session.execute(leaves_stmt).scalars()]
    if len(leaves) != head.tree_size:
        raise InputError(
            f"the audit log has {len(leaves)} entries below its head of size {head.tree_size}; "
            "run `custodes audit verify`"
        )
    pem = public_key_pem if public_key_pem is not None else _stored_public_pem(session)
    return {
        "format": INCLUSION_FORMAT,
        "index": seq,
        "payload": entry.payload,
        "leaf_hash": entry.leaf_hash,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "audit_path": [h.hex() for h in merkle.inclusion_proof(seq, leaves)],
        "tree_head": _head_dict(head),
        "public_key_pem": pem,
    }


def check_inclusion_bundle(bundle: dict[str, Any]) -> tuple[bool, str]:
    """Check an inclusion bundle using nothing but its own contents."""
    try:
        pem = bundle["public_key_pem"]
        if not isinstance(pem, str):
            return False, "the bundle carries no log public key"
        public_key = public_key_from_pem(pem)
        head = bundle["tree_head"]
        index, size = int(bundle["index"]), int(bundle["tree_size"])
        payload = str(bundle["payload"])
        root_hex = str(bundle["root_hash"])
        leaf = merkle.leaf_hash(payload.encode())
        if leaf.hex() != bundle["leaf_hash"]:
            return False, f"entry {index}: the payload does not match the leaf hash"
        doc = json.loads(payload)
        if not isinstance(doc, dict) or doc.get("seq") != index:
            return False, f"entry {index}: the payload is for another position in the log"
        if int(head["tree_size"]) != size or head["root_hash"] != root_hex:
            return False, "the signed tree head is for a different tree than the proof"
        problem = _check_head_signature(head, public_key)
        if problem:
            return False, f"the tree head is not valid: {problem}"
        proof = [bytes.fromhex(h) for h in bundle["audit_path"]]
        if not merkle.verify_inclusion(leaf, index, size, proof, bytes.fromhex(root_hex)):
            return False, f"entry {index} is not in the tree of size {size}: the audit path fails"
    except (KeyError, TypeError, ValueError, InputError) as exc:
        return False, f"malformed inclusion bundle: {exc}"
    return (
        True,
        f"entry {index} is included in the log of size {size} signed by key {head['key_id']}",
    )


def export_bundle(session: Session, public_key_pem: str) -> dict[str, Any]:
    """The whole log (entries, signed heads, public key) for offline verification."""
    entries = [
        {
            "seq": r.seq,
            "at": rfc3339(r.at),
            "kind": r.kind,
            "actor": r.actor,
            "payload": r.payload,
            "leaf_hash": r.leaf_hash,
        }
        for r in session.execute(select(LogEntry).order_by(LogEntry.seq)).scalars()
    ]
    return {
        "format": BUNDLE_FORMAT,
        "public_key_pem": public_key_pem,
        "size": session.execute(select(func.count()).select_from(LogEntry)).scalar_one(),
        "entries": entries,
        "heads": [
            _head_dict(h)
            for h in session.execute(select(TreeHead).order_by(TreeHead.tree_size)).scalars()
        ],
    }


def verify_bundle(
    bundle: dict[str, Any], trusted_head: dict[str, Any] | None = None
) -> LogVerification:
    """The checks of :func:`verify` on an exported bundle, with no database."""
    try:
        public_key = public_key_from_pem(str(bundle["public_key_pem"]))
        rows = [
            _Row(
                int(e["seq"]), str(e["payload"]), str(e["leaf_hash"]), e.get("kind"), e.get("actor")
            )
            for e in bundle["entries"]
        ]
        heads = sorted(bundle["heads"], key=lambda h: int(h["tree_size"]))
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        return LogVerification(False, 0, None, f"malformed audit bundle: {exc}", None)
    return _verify_stream(rows, heads, public_key, trusted_head)
