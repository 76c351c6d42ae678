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
the Merkle frontier so an append costs O(log n) and never rereads old entries. The lock is
held until the caller commits, so an append does as little as possible while holding it:
plain Core statements, and on PostgreSQL one round trip for the entry, head and state.

Verification streams the log in chunks; a large log is checked over a pool of worker
processes (checking every head's Ed25519 signature is most of the cost, and holds the
GIL), and the first chunk that finds a problem decides, so the first bad entry is named
exactly as a single sequential pass would name it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Insert, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from custodes.errors import InputError
from custodes.governance import merkle
from custodes.provenance.keys import key_id, load_private_key, write_keypair
from custodes.store.models import LogEntry, LogState, TreeHead

__all__ = [
    "BUNDLE_FORMAT",
    "CONSISTENCY_FORMAT",
    "LOG_KEY_NAME",
    "LogSigner",
    "LogVerification",
    "append",
    "append_many",
    "canonical_json",
    "check_consistency_bundle",
    "check_inclusion_bundle",
    "consistency_bundle",
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
CONSISTENCY_FORMAT = "custodes-consistency/1"
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


_LOG = cast(Table, LogEntry.__table__)
_HEAD = cast(Table, TreeHead.__table__)
_STATE = cast(Table, LogState.__table__)
_LOCK = (
    select(_STATE.c.size, _STATE.c.frontier, _STATE.c.public_key_pem)
    .where(_STATE.c.id == 1)
    .with_for_update()
)


def _bound_insert(table: Table, prefix: str) -> Insert:
    return table.insert().values(
        {c.name: bindparam(f"{prefix}_{c.name}", type_=c.type) for c in table.columns}
    )


#: One append on PostgreSQL in one statement and one round trip: the entry, its head and
#: the new log state. Built once, so each append only binds values.
_PG_APPEND = (
    _STATE.update()
    .where(_STATE.c.id == 1)
    .values(
        size=bindparam("s_size", type_=_STATE.c.size.type),
        frontier=bindparam("s_frontier", type_=_STATE.c.frontier.type),
        public_key_pem=func.coalesce(
            _STATE.c.public_key_pem, bindparam("s_pem", type_=_STATE.c.public_key_pem.type)
        ),
    )
    .add_cte(_bound_insert(_LOG, "e").cte("new_entry"))
    .add_cte(_bound_insert(_HEAD, "h").cte("new_head"))
)


def _lock_state(session: Session) -> tuple[int, str, str | None]:
    """Lock the log state row; (size, frontier JSON, recorded public key PEM).

    Read as plain columns, not as an ORM object, so a stale ``LogState`` in the caller's
    identity map can never be used and no ORM bookkeeping runs while the lock is held.
    """
    row = session.execute(_LOCK).one_or_none()
    if row is None:
        # The migration seeds this row; recreate it idempotently if someone removed it.
        values = {"id": 1, "size": 0, "frontier": "[]"}
        name = session.get_bind().dialect.name
        if name == "postgresql":
            session.execute(postgresql.insert(_STATE).values(values).on_conflict_do_nothing())
        elif name == "sqlite":
            session.execute(sqlite.insert(_STATE).values(values).on_conflict_do_nothing())
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            session.execute(_STATE.insert().values(values))
        row = session.execute(_LOCK).one()
    return int(row.size), str(row.frontier), row.public_key_pem


def _next_rows(
    frontier: merkle.Frontier,
    signer: LogSigner,
    kind: str,
    actor: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit_log and tree_heads rows of the next entry; extends ``frontier``.

    The one place an entry and its signed head are made, for single and batch appends.
    """
    seq = frontier.size
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
    root_hex = frontier.root().hex()
    signature = signer.sign(canonical_json(_head_document(seq + 1, root_hex, at, signer.key_id)))
    entry = {
        "seq": seq,
        "at": now,
        "kind": kind,
        "actor": actor,
        "payload": body,
        "leaf_hash": leaf.hex(),
    }
    head = {
        "tree_size": seq + 1,
        "root_hash": root_hex,
        "at": now,
        "key_id": signer.key_id,
        "signature": signature,
    }
    return entry, head


def _append_rows(
    session: Session,
    signer: LogSigner,
    events: Iterable[tuple[str, str | None, dict[str, Any]]],
) -> list[dict[str, Any]]:
    size, frontier_json, pem = _lock_state(session)
    frontier = merkle.Frontier.from_json(frontier_json, size)
    entries: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    for kind, actor, payload in events:
        entry, head = _next_rows(frontier, signer, kind, actor, payload, datetime.now(UTC))
        entries.append(entry)
        heads.append(head)
    if not entries:
        return entries
    state: dict[str, Any] = {"size": frontier.size, "frontier": frontier.to_json()}
    if pem is None:
        state["public_key_pem"] = signer.public_key_pem()
    # Core statements, not the ORM unit of work, whose bookkeeping would run while the
    # log lock is held. Every round trip to the server holds the lock a little longer, so
    # on PostgreSQL a single append writes its entry, its head and the new state in one
    # statement (data-modifying CTEs); batches use executemany.
    if len(entries) == 1 and session.get_bind().dialect.name == "postgresql":
        params = {f"e_{k}": v for k, v in entries[0].items()}
        params |= {f"h_{k}": v for k, v in heads[0].items()}
        params |= {"s_size": state["size"], "s_frontier": state["frontier"]}
        params["s_pem"] = state.get("public_key_pem")
        session.execute(_PG_APPEND, params)
    else:
        session.execute(_LOG.insert(), entries)
        session.execute(_HEAD.insert(), heads)
        session.execute(_STATE.update().where(_STATE.c.id == 1).values(state))
    return entries


def append(
    session: Session, signer: LogSigner, kind: str, actor: str | None, payload: dict[str, Any]
) -> LogEntry:
    """Append one entry and its signed tree head inside the caller's transaction.

    Nothing is committed here: the caller commits the domain change and the log entry
    together, or rolls both back. The returned entry is not attached to the session.
    """
    (entry,) = _append_rows(session, signer, [(kind, actor, payload)])
    return LogEntry(**entry)


def append_many(
    session: Session,
    signer: LogSigner,
    events: Iterable[tuple[str, str | None, dict[str, Any]]],
) -> range:
    """Append ``(kind, actor, payload)`` events in order, under one lock, in the caller's
    transaction; each gets its own signed tree head, exactly as :func:`append` would
    make them one by one. Returns the sequence numbers used."""
    entries = _append_rows(session, signer, events)
    first = entries[0]["seq"] if entries else 0
    return range(first, first + len(entries))


def _newest_head(session: Session) -> TreeHead | None:
    return session.execute(
        select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)
    ).scalar_one_or_none()


def latest_head(session: Session) -> dict[str, Any] | None:
    """The newest signed tree head as a dict, or None for an empty log."""
    head = _newest_head(session)
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


def _check_head_signature(
    head: dict[str, Any],
    public_key: Ed25519PublicKey,
    expected: str | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> str | None:
    """None if ``head`` is signed by ``public_key`` (whose key id is ``expected``), else why not.

    With the matching ``private_key``, a signature equal to the one it makes for the head
    is valid without the (three times dearer) verification: Ed25519 signing is
    deterministic (RFC 8032), and a correct signature always verifies. Any other
    signature is verified with the public key as usual, so the outcome is the same.
    """
    if expected is None:
        expected = key_id(public_key)
    if head.get("key_id") != expected:
        return f"signed by key {head.get('key_id')}, not by the log key {expected}"
    try:
        doc = _head_document(
            int(head["tree_size"]), str(head["root_hash"]), str(head["at"]), expected
        )
        message = canonical_json(doc)
        signature = base64.b64decode(str(head["signature"]), validate=True)
        if private_key is None or private_key.sign(message) != signature:
            public_key.verify(signature, message)
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
        return "its signature does not verify with the log public key"
    return None


#: One entry as verified: (seq, payload, leaf_hash, kind, actor).
_Row = tuple[int, str, str, str | None, str | None]
#: A tree head as a dict (from a bundle) or as the columns of ``tree_heads``
#: (tree_size, root_hash, at, key_id, signature), turned into a dict only when checked.
_Head = dict[str, Any] | tuple[int, str, datetime, str, str]

#: Entries per unit of work: checked in order in this process for small logs, spread
#: over a process pool for large ones (verifying the Ed25519 signature of every head is
#: most of the work, and the GIL is held while it runs).
_CHUNK = 4096
#: Entries checked in this process before a pool is worth starting.
_PARALLEL_AFTER = 8 * _CHUNK
#: Chunks queued per worker process: enough to keep them busy, few enough to bound memory.
_IN_FLIGHT = 3


def _as_head(head: _Head) -> dict[str, Any]:
    if isinstance(head, dict):
        return head
    tree_size, root_hash, at, kid, signature = head
    return _head_document(tree_size, root_hash, rfc3339(at), kid) | {"signature": signature}


def _head_size(head: _Head) -> int:
    return int(head["tree_size"]) if isinstance(head, dict) else head[0]


def _check_entry(row: _Row, expected: int, prev_root: str) -> bytes:
    """Raise _Bad for the first problem with ``row``; return its leaf hash.

    ``prev_root`` is the hex root of entries 0..expected-1, which the entry must embed.
    """
    seq, payload, stored_leaf, kind, actor = row
    if seq != expected:
        if seq > expected:
            raise _Bad(expected, f"entry {expected} is missing (the next entry is {seq})")
        raise _Bad(seq, f"entry {seq} appears twice")
    try:
        doc = json.loads(payload)
    except (TypeError, ValueError):
        raise _Bad(seq, f"entry {seq} was altered: its payload is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _Bad(seq, f"entry {seq} was altered: its payload is not a JSON object")
    if doc.get("seq") != seq:
        raise _Bad(
            seq,
            f"entry {seq} holds the payload of entry {doc.get('seq')}: entries were reordered",
        )
    leaf = merkle.leaf_hash(payload.encode())
    if leaf.hex() != stored_leaf:
        raise _Bad(seq, f"entry {seq} was altered: its leaf hash does not match its payload")
    if doc.get("prev_root") != prev_root:
        raise _Bad(
            seq,
            f"entry {seq} does not chain to entries 0..{seq - 1}: "
            "history before it was inserted or rewritten",
        )
    # kind and actor are copied into columns for querying; a DBA editing only the column
    # would change what reports show without touching the hashed payload.
    for column, value in (("kind", kind), ("actor", actor)):
        if doc.get(column) != value:
            raise _Bad(
                seq, f"entry {seq} was altered: its {column} column disagrees with its payload"
            )
    return leaf


@dataclass(frozen=True)
class _ChunkResult:
    """What checking one chunk found: the first problem (``reason``) or none, the tree
    size reached, and the newest tree head that passed every check in the chunk."""

    seq: int | None
    reason: str | None
    size: int
    newest: dict[str, Any] | None


@functools.lru_cache(maxsize=4)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


@functools.lru_cache(maxsize=4)
def _private_key(raw: bytes | None) -> Ed25519PrivateKey | None:
    return None if raw is None else Ed25519PrivateKey.from_private_bytes(raw)


def _check_chunk(
    start: int,
    nodes: list[bytes],
    rows: Sequence[_Row],
    heads: Sequence[_Head],
    raw_key: bytes,
    kid: str,
    trusted: tuple[int, Any] | None,
    raw_private: bytes | None = None,
) -> _ChunkResult:
    """Check entries ``start..`` (``rows``) and the heads that fall among them, in log order.

    ``nodes`` is the Merkle frontier of the entries before ``start`` (as recorded by
    whoever read them, from their stored leaf hashes: if one of those was wrong, an
    earlier chunk fails, and the first failing chunk is the one reported). Everything
    :func:`verify` checks per entry and per head happens here, in the same order, so a
    log checked in one chunk or in many names the same first bad entry.
    """
    public_key = _public_key(raw_key)
    private_key = _private_key(raw_private)
    frontier = merkle.Frontier(start, nodes)
    root_hex = frontier.root().hex()
    trusted_size, trusted_root = trusted if trusted is not None else (None, None)
    newest: dict[str, Any] | None = None
    h, n_heads = 0, len(heads)
    try:
        for row in rows:
            leaf = _check_entry(row, frontier.size, root_hex)
            frontier.append(leaf)
            size = frontier.size
            root_hex = frontier.root().hex()
            if trusted_size == size and trusted_root != root_hex:
                raise _Bad(
                    size - 1,
                    f"the log does not extend the trusted tree head of size {size}: "
                    f"entries 0..{size - 1} were rewritten",
                )
            while h < n_heads and _head_size(heads[h]) <= size:
                head = _as_head(heads[h])
                head_size = int(head["tree_size"])
                if head_size < size:  # only a size-0 head can lag behind in sorted order
                    raise _Bad(None, f"the signed tree head of size {head_size} is invalid")
                if head["root_hash"] != root_hex:
                    raise _Bad(
                        size - 1,
                        f"entry {size - 1} or the tree head for size {size} was altered: "
                        "the signed root does not match the recomputed root",
                    )
                problem = _check_head_signature(head, public_key, kid, private_key)
                if problem:
                    raise _Bad(size - 1, f"the tree head for size {size} is forged: {problem}")
                newest = head
                h += 1
    except _Bad as bad:
        return _ChunkResult(bad.seq, bad.reason, frontier.size, newest)
    return _ChunkResult(None, None, frontier.size, newest)


def _workers() -> int:
    """One worker process per available core; none inside a daemonic process (which may
    not have children), where the log is checked in this process."""
    if multiprocessing.current_process().daemon:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Chunker:
    """Cuts the entry stream into chunks, hands each the heads that fall among its
    entries, and carries the Merkle frontier (from the stored leaf hashes) between them."""

    def __init__(self, rows: Iterable[_Row], heads: Iterable[_Head]) -> None:
        self._rows = iter(rows)
        self._heads = iter(heads)
        self.pending: _Head | None = next(self._heads, None)
        self.frontier = merkle.Frontier()

    def __iter__(self) -> Iterator[tuple[int, list[bytes], list[_Row], list[_Head]]]:
        while batch := list(itertools.islice(self._rows, _CHUNK)):
            start, nodes = self.frontier.size, self.frontier.nodes
            end = start + len(batch)
            heads: list[_Head] = []
            while self.pending is not None and _head_size(self.pending) <= end:
                heads.append(self.pending)
                self.pending = next(self._heads, None)
            append = self.frontier.append
            for row in batch:
                try:
                    append(bytes.fromhex(row[2]))
                except (TypeError, ValueError):
                    append(b"")  # the chunk fails at this entry; later chunks are moot
            yield start, nodes, batch, heads


def _chunk_results(
    chunks: Iterable[tuple[int, list[bytes], list[_Row], list[_Head]]],
    args: tuple[bytes, str, tuple[int, Any] | None, bytes | None],
    workers: int,
) -> Generator[_ChunkResult]:
    """Check chunks in order, here at first and over ``workers`` processes once the log
    proves large; results come back in log order. Closing the iterator stops the pool."""
    pool: ProcessPoolExecutor | None = None
    inflight: deque[Future[_ChunkResult]] = deque()
    try:
        for start, nodes, rows, heads in chunks:
            if pool is None and workers > 1 and start >= _PARALLEL_AFTER:
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if pool is None:
                yield _check_chunk(start, nodes, rows, heads, *args)
                continue
            inflight.append(pool.submit(_check_chunk, start, nodes, rows, heads, *args))
            while inflight and (len(inflight) > workers * _IN_FLIGHT or inflight[0].done()):
                yield inflight.popleft().result()
        while inflight:
            yield inflight.popleft().result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _verify_stream(
    rows: Iterable[_Row],
    heads: Iterable[_Head],
    public_key: Ed25519PublicKey,
    trusted_head: dict[str, Any] | None,
    workers: int | None = None,
    signer: LogSigner | None = None,
) -> LogVerification:
    """The checks shared by :func:`verify` and :func:`verify_bundle`, in one pass.

    Entries are checked in chunks (:func:`_check_chunk`); the first chunk that finds a
    problem decides the result, so the first bad entry is named whatever the chunking.
    """
    kid = key_id(public_key)
    trusted: tuple[int, Any] | None = None
    if trusted_head is not None:
        # the signature check reads the head's fields safely: a malformed head is a
        # reason, never a KeyError from here
        problem = _check_head_signature(trusted_head, public_key, kid)
        if problem:
            reason = f"the trusted tree head is not valid: {problem}"
            return LogVerification(False, 0, None, reason, None)
        trusted = (int(trusted_head["tree_size"]), trusted_head["root_hash"])
    chunker = _Chunker(rows, heads)
    newest: dict[str, Any] | None = None
    raw_key = public_key.public_bytes_raw()
    raw_private = None
    if signer is not None and signer.public_key.public_bytes_raw() == raw_key:
        raw_private = signer.private_key.private_bytes_raw()
    args = (raw_key, kid, trusted, raw_private)
    with closing(_chunk_results(chunker, args, workers or _workers())) as results:
        for result in results:
            newest = result.newest or newest
            if result.reason is not None:
                return LogVerification(False, result.size, result.seq, result.reason, newest)
    size = chunker.frontier.size
    try:
        if chunker.pending is not None:
            raise _Bad(
                size,
                f"entry {size} is missing: a signed tree head covers "
                f"{_as_head(chunker.pending)['tree_size']} entries but the log has {size}",
            )
        if trusted is not None and trusted[0] > size:
            raise _Bad(
                size,
                f"entry {size} is missing: the log was truncated to {size} entries, "
                f"below the trusted tree head of size {trusted[0]}",
            )
        covered = int(newest["tree_size"]) if newest is not None else 0
        if covered < size:
            raise _Bad(covered, f"entry {covered} is not covered by a signed tree head")
    except _Bad as bad:
        return LogVerification(False, size, bad.seq, bad.reason, newest)
    reason = f"{size} entries verified" + (
        f", signed by key {newest['key_id']}" if newest is not None else " (empty log)"
    )
    return LogVerification(True, size, None, reason, newest)


_ROWS = (
    select(_LOG.c.seq, _LOG.c.payload, _LOG.c.leaf_hash, _LOG.c.kind, _LOG.c.actor)
    .order_by(_LOG.c.seq)
    .execution_options(yield_per=_STREAM_BATCH)
)
_HEADS = (
    select(_HEAD.c.tree_size, _HEAD.c.root_hash, _HEAD.c.at, _HEAD.c.key_id, _HEAD.c.signature)
    .order_by(_HEAD.c.tree_size)
    .execution_options(yield_per=_STREAM_BATCH)
)


def verify(
    session: Session,
    public_key: Ed25519PublicKey,
    trusted_head: dict[str, Any] | None = None,
    *,
    workers: int | None = None,
    signer: LogSigner | None = None,
) -> LogVerification:
    """Check the whole log in the database, streaming it; name the first bad entry.

    ``trusted_head`` is a signed head seen earlier (by a witness, a CI job, an auditor):
    the log must still contain it, which catches truncation and rewritten history that
    the database alone could hide by deleting or re-signing heads. A large log is
    checked over ``workers`` processes (default: one per available core).

    ``signer``, the log's own key when the caller holds it, makes checking the signed
    heads about three times cheaper (see :func:`_check_head_signature`) with the same
    result; it is ignored unless it matches ``public_key``.
    """
    # Plain column tuples, no ORM objects. Both results stream (server-side cursors on
    # PostgreSQL) and are closed explicitly, because verification stops at the first bad
    # entry with rows still unread.
    conn = session.connection()
    with conn.execute(_ROWS) as rows, conn.execute(_HEADS) as heads:
        return _verify_stream(
            (tuple(row) for row in rows),
            (tuple(head) for head in heads),
            public_key,
            trusted_head,
            workers,
            signer,
        )


# ---------------------------------------------------------------------------- bundles


def _stored_public_pem(session: Session) -> str | None:
    return session.execute(select(LogState.public_key_pem).where(LogState.id == 1)).scalar()


def _leaves_below(session: Session, tree_size: int) -> list[bytes]:
    """The leaf hashes a head of ``tree_size`` covers, streamed (InputError if any is missing)."""
    stmt = (
        select(LogEntry.leaf_hash)
        .where(LogEntry.seq < tree_size)
        .order_by(LogEntry.seq)
        .execution_options(yield_per=_STREAM_BATCH)
    )
    leaves = [bytes.fromhex(h) for h in session.execute(stmt).scalars()]
    if len(leaves) != tree_size:
        raise InputError(
            f"the audit log has {len(leaves)} entries below its head of size {tree_size}; "
            "run `custodes audit verify`"
        )
    return leaves


def inclusion_bundle(
    session: Session, seq: int, public_key_pem: str | None = None
) -> dict[str, Any]:
    """Everything needed to prove offline that entry ``seq`` is in the log.

    The proof is against the newest signed head. The log public key defaults to the one
    recorded by the first append; a checker should compare its key id with the one it
    trusts.
    """
    head = _newest_head(session)
    if head is None or not 0 <= seq < head.tree_size:
        raise InputError(f"audit log entry {seq} does not exist or is not yet covered by a head")
    entry = session.get(LogEntry, seq)
    if entry is None:
        raise InputError(f"audit log entry {seq} is missing")
    leaves = _leaves_below(session, head.tree_size)
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


def consistency_bundle(
    session: Session, old_size: int, public_key_pem: str | None = None
) -> dict[str, Any]:
    """RFC 9162 consistency proof that the signed head at ``old_size`` (say, one a witness
    kept) is a prefix of the newest signed head: nothing before it was rewritten."""
    newest = _newest_head(session)
    if newest is None or not 1 <= old_size <= newest.tree_size:
        size = 0 if newest is None else newest.tree_size
        raise InputError(f"no signed tree head of size {old_size} (the log has {size} entries)")
    old = session.get(TreeHead, old_size)
    if old is None:
        raise InputError(f"the log has no signed tree head of size {old_size}")
    leaves = _leaves_below(session, newest.tree_size)
    pem = public_key_pem if public_key_pem is not None else _stored_public_pem(session)
    return {
        "format": CONSISTENCY_FORMAT,
        "old_head": _head_dict(old),
        "new_head": _head_dict(newest),
        "proof": [h.hex() for h in merkle.consistency_proof(old_size, leaves)],
        "public_key_pem": pem,
    }


def check_consistency_bundle(
    bundle: dict[str, Any], old_head: dict[str, Any] | None = None
) -> tuple[bool, str]:
    """Check a consistency bundle with nothing but its contents (and, if given, the old
    head a witness kept, which must be the bundle's old head)."""
    try:
        pem = bundle["public_key_pem"]
        if not isinstance(pem, str):
            return False, "the bundle carries no log public key"
        public_key = public_key_from_pem(pem)
        old, new = bundle["old_head"], bundle["new_head"]
        if old_head is not None and (
            int(old_head["tree_size"]) != int(old["tree_size"])
            or old_head["root_hash"] != old["root_hash"]
        ):
            return False, "the proof starts from another head than the one you kept"
        for which, head in (("old", old), ("new", new)):
            problem = _check_head_signature(head, public_key)
            if problem:
                return False, f"the {which} tree head is not valid: {problem}"
        m, n = int(old["tree_size"]), int(new["tree_size"])
        proof = [bytes.fromhex(h) for h in bundle["proof"]]
        if not merkle.verify_consistency(
            m, n, bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"]), proof
        ):
            return False, f"the log of size {n} does not extend the log of size {m}"
    except (KeyError, TypeError, ValueError, InputError) as exc:
        return False, f"malformed consistency bundle: {exc}"
    return True, f"the log of size {n} extends the log of size {m} (key {new['key_id']})"


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
    bundle: dict[str, Any],
    trusted_head: dict[str, Any] | None = None,
    *,
    workers: int | None = None,
    signer: LogSigner | None = None,
) -> LogVerification:
    """The checks of :func:`verify` on an exported bundle, with no database."""
    try:
        public_key = public_key_from_pem(str(bundle["public_key_pem"]))
        rows: list[_Row] = [
            (int(e["seq"]), str(e["payload"]), str(e["leaf_hash"]), e.get("kind"), e.get("actor"))
            for e in bundle["entries"]
        ]
        heads = sorted(bundle["heads"], key=lambda h: int(h["tree_size"]))
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        return LogVerification(False, 0, None, f"malformed audit bundle: {exc}", None)
    return _verify_stream(rows, heads, public_key, trusted_head, workers, signer)
